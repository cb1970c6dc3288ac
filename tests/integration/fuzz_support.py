"""A raw-HTTP fuzzer for a real edge: hypothesis strategies for whole exchanges (request
lines, headers, cookies, bodies, pipelining, HTTP/1.0), sent over a plain socket, and a
reader that splits the answers back into responses.

`TURNOUT_FUZZ_EXAMPLES` sets how many exchanges a fuzz test sends (300 by default, a few
seconds); CI runs the default, a bigger number is for a fuzzing session.
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
from dataclasses import dataclass
from typing import Final
from urllib.parse import quote_from_bytes

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from tests.integration.edge_support import BOT, DESKTOP, IPS, MOBILE
from turnout.clickid import ClickIds

EXAMPLES: Final = int(os.environ.get("TURNOUT_FUZZ_EXAMPLES", "300"))
# Derandomized: CI runs the same exchanges every time, so a finding reproduces.
FUZZ_SETTINGS: Final = settings(
    max_examples=EXAMPLES, derandomize=True, database=None, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                           HealthCheck.data_too_large],
)
# Seconds for a whole exchange; longer is a hang. Below uvicorn's keep-alive timeout (5 s),
# so a connection left open despite `Connection: close` is caught, not closed as idle.
ANSWER_TIMEOUT: Final = 3.0

PATHS: Final = ("/c/CAMP_A", "/c/INSTA_SUMMER_01", "/c/INSTA_SUMMER_01_STORIES", "/c/NOPE",
                "/c/", "/click", "/click/1", "/click/2/extra", "/r", "/postback", "/p.gif",
                "/api/v1/events", "/healthz", "/readyz", "/metrics", "/openapi.json",
                "/", "/postback/", "/c", "/favicon.ico", "/api/v1/report")
METHODS: Final = ("GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "TRACE",
                  "CONNECT", "BREW", "get")
PARAMS: Final = ("clickid", "cid", "click_id", "subid", "secret", "network", "sig", "payout",
                 "currency", "status", "txid", "event", "value", "t", "zoneid", "sub1",
                 "cost", "utm_content", "ad", "lp", "n", "url", "a")
SECRETS: Final = ("beta-postback-secret-02", "alpha-postback-secret-01", "nope")
_IDS = ClickIds()


def _click_ids() -> st.SearchStrategy[str]:
    now = int(time.time() * 1000)
    return st.sampled_from([_IDS.new(now - 3_600_000), _IDS.new(now + 86_400_000),
                            _IDS.new(now - 200 * 86_400_000), _IDS.new(now).lower()])


def _encoded(text: bytes) -> str:
    return quote_from_bytes(text, safe="")


# Values: plausible ones, hostile text, percent-encoded bytes (valid or not), sizes.
plain_values: Final = st.one_of(
    st.sampled_from(["", "1", "4.20", "USD", "approved", "story-b", "lead"]), _click_ids(),
    st.sampled_from(SECRETS), st.from_regex(r"\A[a-z0-9_.-]{0,12}\Z"),
)
hostile_values: Final = st.one_of(
    st.sampled_from(["", "1", "4.20", "\uff11", "\u0663", "1e3", "-1", "0x10", "9" * 30,
                     "USD", "eur", "approved", "weird", "javascript:alert(1)", "//evil.example",
                     "%zz", "%", "%ff%fe", "%00", "a+b", "\u00e9"]),
    _click_ids(),
    st.sampled_from(SECRETS),
    st.text(max_size=40).map(lambda t: _encoded(t.encode("utf-8", "surrogatepass"))),
    st.binary(max_size=40).map(_encoded),
    st.binary(max_size=20).map(lambda b: b.decode("latin-1")),
    st.integers(1, 6000).map(lambda n: "x" * n),
)
values: Final = st.one_of(plain_values, plain_values, hostile_values)
queries: Final = st.lists(
    st.tuples(st.one_of(st.sampled_from(PARAMS), st.text("abc%=&+", max_size=8)), values),
    max_size=8,
).map(lambda pairs: "&".join(f"{name}={value}" for name, value in pairs))


@st.composite
def targets(draw: st.DrawFn) -> bytes:
    """A request target: a known path (perhaps with a hostile tail) and a query."""
    path = draw(st.sampled_from(PATHS))
    hostile_tail = st.one_of(
        st.sampled_from(["/", "/..", "//evil.example", "%2F", "%ff", "%", ";x", "#f"]),
        st.binary(max_size=12).map(_encoded))
    tail = "" if draw(st.integers(0, 3)) else draw(hostile_tail)
    query = draw(queries)
    target = (path + tail + ("?" + query if query or draw(st.booleans()) else ""))
    raw = target.encode("latin-1", "replace")
    if draw(st.integers(0, 20)) == 0:  # raw, unescaped bytes in the request line
        raw += draw(st.binary(min_size=1, max_size=8)).replace(b" ", b"").replace(b"\r", b"") \
            .replace(b"\n", b"")
    return raw


cookie_values: Final = st.one_of(
    st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters=";"),
            max_size=60),
    st.sampled_from(['"quoted"', "<x>", "a; Expires=Thu, 01 Jan 1970 00:00:00 GMT",
                     "é".encode().decode("latin-1"), "A" * 2000, "x=y=z", ""]),
)
cookies: Final = st.lists(
    st.tuples(st.sampled_from(["tv", "tu", "tc", "other"]), cookie_values), max_size=4,
).map(lambda pairs: "; ".join(f"{name}={value}" for name, value in pairs))
header_values: Final = st.one_of(
    st.sampled_from([MOBILE, DESKTOP, BOT, *IPS, "de-DE,de;q=0.9", "en;q=x,fr;q=0",
                     "https://ref.example/path?q=1", "http://[::1", "", "1.2.3.4, " * 50,
                     "application/x-www-form-urlencoded", "application/json", "text/plain",
                     "multipart/form-data; boundary=x", "gzip"]),
    st.binary(max_size=60).map(lambda b: b.translate(None, b"\r\n").decode("latin-1")),
)
plain_headers: Final = st.lists(
    st.tuples(st.sampled_from(["User-Agent", "X-Forwarded-For", "Accept-Language", "Referer"]),
              st.sampled_from([MOBILE, DESKTOP, BOT, *IPS, "de-DE,de;q=0.9",
                               "https://ref.example/path?q=1"])),
    max_size=4,
)
HEADER_NAMES: Final = ("User-Agent", "X-Forwarded-For", "Accept-Language", "Referer",
                       "Origin", "Content-Type", "Accept", "Accept-Encoding", "X-Real-IP",
                       "Forwarded", "Expect", "Upgrade", "Range", "If-None-Match")
headers: Final = st.lists(
    st.tuples(st.one_of(st.sampled_from(HEADER_NAMES), st.from_regex(r"\A[A-Za-z-]{1,12}\Z")),
              header_values),
    max_size=6,
)
bodies: Final = st.one_of(
    st.just(b""),
    queries.map(lambda q: q.encode("latin-1", "replace")),
    st.sampled_from([b"{}", b"[]", b'{"name":"signup","cid":"x"}', b'{"params":1}',
                     b'{"params":{"a":[1,{"b":null}]},"value":"1\xef\xbc\x91"}', b"{",
                     b"\xff\xfe", b"null", b'"x"', b"1" * 70_000]),
    st.binary(max_size=200),
)


@dataclass(frozen=True)
class Request:
    method: str
    target: bytes
    version: str  # "HTTP/1.1" or "HTTP/1.0"
    headers: tuple[tuple[str, str], ...]
    body: bytes
    chunked: bool

    def wire(self, last: bool) -> bytes:
        lines = [f"{self.method} ".encode() + self.target + f" {self.version}".encode()]
        lines += [f"{name}: {value}".encode("latin-1") for name, value in self.headers]
        if self.version == "HTTP/1.1" and last:
            lines.append(b"Connection: close")
        elif self.version == "HTTP/1.0" and not last:
            lines.append(b"Connection: keep-alive")
        body = self.body
        if self.chunked:
            lines.append(b"Transfer-Encoding: chunked")
            body = (f"{len(body):x}\r\n".encode() + body + b"\r\n" if body else b"") + b"0\r\n\r\n"
        elif body or self.method in ("POST", "PUT", "PATCH"):
            lines.append(f"Content-Length: {len(body)}".encode())
        return b"\r\n".join(lines) + b"\r\n\r\n" + body


@st.composite
def requests(draw: st.DrawFn) -> Request:
    version = draw(st.sampled_from(["HTTP/1.1", "HTTP/1.1", "HTTP/1.0"]))
    extra = [("Cookie", draw(cookies))] if draw(st.booleans()) else []
    host = [] if version == "HTTP/1.0" and draw(st.booleans()) else [
        ("Host", draw(st.sampled_from(["lp.example.com", "127.0.0.1", "evil.example", ""])))]
    return Request(
        method=draw(st.sampled_from(["GET", "GET", "HEAD", "POST"]) if draw(st.booleans())
                    else st.sampled_from(METHODS)), target=draw(targets()), version=version,
        headers=tuple(host + extra + draw(headers if draw(st.integers(0, 3)) == 0
                                           else plain_headers)), body=draw(bodies),
        chunked=draw(st.integers(0, 5)) == 0,
    )


exchanges: Final = st.lists(requests(), min_size=1, max_size=3)  # more than one: pipelined


def wire(exchange: list[Request]) -> bytes:
    return b"".join(request.wire(last=i == len(exchange) - 1)
                    for i, request in enumerate(exchange))


class Hang(AssertionError):
    """The edge neither answered nor closed the connection in time."""


def send(port: int, data: bytes, timeout: float = ANSWER_TIMEOUT) -> bytes:
    """Everything the edge answers to `data` until it closes the connection; Hang if it
    does not close in `timeout` s (each exchange's last request says Connection: close)."""
    deadline = time.monotonic() + timeout
    chunks: list[bytes] = []
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        # Refused part-way (a request too large): what was answered still counts.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(data)
        while True:
            sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            except TimeoutError:
                raise Hang(f"no close in {timeout}s after {sum(map(len, chunks))} bytes: "
                           f"{data[:300]!r}") from None
            if not chunk:
                break
            chunks.append(chunk)
    return b"".join(chunks)


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[bytes, bytes]
    body: bytes


class Malformed(AssertionError):
    """An answer that is not a sequence of well-framed HTTP/1.x responses."""


def responses(answer: bytes, methods: list[str]) -> list[Response]:
    """The responses in `answer`, framed by Content-Length or chunked encoding (none for
    a HEAD, a 204 or a 304); `methods` are the requests' methods, in order."""
    found: list[Response] = []
    rest = answer
    while rest:
        head, sep, rest = rest.partition(b"\r\n\r\n")
        if not sep:
            raise Malformed(f"headers never end: {head[:200]!r}")
        status_line, *lines = head.split(b"\r\n")
        parts = status_line.split(b" ", 2)
        if len(parts) < 2 or parts[0] not in (b"HTTP/1.1", b"HTTP/1.0") or not parts[1].isdigit():
            raise Malformed(f"bad status line {status_line[:200]!r}")
        fields: dict[bytes, bytes] = {}
        for line in lines:
            name, colon, value = line.partition(b":")
            if not colon:
                raise Malformed(f"bad header line {line[:200]!r}")
            fields[name.strip().lower()] = value.strip()
        status = int(parts[1])
        if 100 <= status < 200:
            continue  # an interim answer (100 Continue): the response follows
        method = methods[len(found)] if len(found) < len(methods) else "GET"
        length = int(fields.get(b"content-length", b"-1"))
        if method.upper() == "HEAD" and status == 400 and len(rest) == length:
            body, rest = rest, b""  # the request line was refused, not read as a HEAD
        elif method.upper() == "HEAD" or status in (204, 304):
            body = b""
        elif fields.get(b"transfer-encoding", b"").lower() == b"chunked":
            body, rest = _dechunk(rest)
        elif length >= 0:
            if len(rest) < length:
                raise Malformed(f"body shorter than its Content-Length {length}")
            body, rest = rest[:length], rest[length:]
        else:  # read to the close
            body, rest = rest, b""
        found.append(Response(status, fields, body))
    return found


def _dechunk(data: bytes) -> tuple[bytes, bytes]:
    body = b""
    while True:
        size_line, sep, data = data.partition(b"\r\n")
        if not sep:
            raise Malformed("chunked body cut short")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            _, _, data = data.partition(b"\r\n")
            return body, data
        body, data = body + data[:size], data[size + 2:]
