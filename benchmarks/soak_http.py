"""A minimal HTTP/1.1 GET for the soak's client: one connection per request, closed in
every case, the whole exchange bounded by one deadline.

The soak's load runs for tens of minutes across edge restarts; with httpx's pool its
thread ended up spinning with hundreds of sockets in CLOSE-WAIT (benchmarks/README-soak.md).
This asks for `Connection: close`, reads to EOF under `asyncio.timeout`, and closes the
socket in `finally`, so nothing outlives its request and no pool can wedge.
"""

from __future__ import annotations

import asyncio
import contextlib
import urllib.parse
from dataclasses import dataclass
from typing import Final

MAX_RESPONSE: Final = 64 * 1024


class Refused(Exception):
    """The connection was refused or reset before an answer came: nothing was accepted."""


class Failed(Exception):
    """No complete answer within the deadline, or a malformed one: the request may or may
    not have been taken."""


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    headers: dict[str, str]  # lower-cased names; the last of repeated ones


def parse_answer(raw: bytes) -> Answer:
    """The status and headers of a response read to EOF; Failed if it is not one."""
    head, sep, _ = raw.partition(b"\r\n\r\n")
    if not sep:
        raise Failed("incomplete response")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    parts = status_line.split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
        raise Failed(f"bad status line {status_line[:40]!r}")
    headers: dict[str, str] = {}
    for line in lines:
        name, colon, value = line.partition(":")
        if colon:
            headers[name.strip().lower()] = value.strip()
    return Answer(int(parts[1]), headers)


async def get(url: str, headers: dict[str, str], timeout_s: float) -> Answer:
    """GET `url` (http only) with `headers`; Refused or Failed as above."""
    parsed = urllib.parse.urlsplit(url)
    host, port = parsed.hostname or "127.0.0.1", parsed.port or 80
    target = parsed.path or "/"
    if parsed.query:
        target += "?" + parsed.query
    lines = [f"GET {target} HTTP/1.1", f"Host: {parsed.netloc}", "Connection: close",
             *(f"{name}: {value}" for name, value in headers.items())]
    request = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    writer: asyncio.StreamWriter | None = None
    try:
        async with asyncio.timeout(timeout_s):
            try:
                reader, writer = await asyncio.open_connection(host, port)
                writer.write(request)
                await writer.drain()
                raw = await reader.read(MAX_RESPONSE)
                while raw and b"\r\n\r\n" not in raw:
                    more = await reader.read(MAX_RESPONSE)
                    if not more:
                        break
                    raw += more
            except (ConnectionRefusedError, ConnectionResetError, BrokenPipeError) as exc:
                raise Refused(str(exc)) from None
    except TimeoutError:
        raise Failed(f"no answer within {timeout_s} s") from None
    except OSError as exc:
        raise Failed(str(exc)) from None
    finally:
        if writer is not None:
            writer.transport.abort()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
    if not raw:
        raise Refused("closed before an answer")
    return parse_answer(raw)
