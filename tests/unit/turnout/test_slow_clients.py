"""turnout.slow_clients over in-memory transports: the head-size accounting across any
split of the bytes into reads, the read deadlines, the connection cap, the refusals."""

from __future__ import annotations

import asyncio
import resource
from typing import Any

import pytest
import uvicorn
from hypothesis import given, settings
from hypothesis import strategies as st
from uvicorn.server import ServerState

from turnout.slow_clients import (
    TIMEOUT_408,
    TOO_LARGE_431,
    ClientLimits,
    ClientStats,
    guarded_protocol,
    open_files_needed,
    raise_open_files,
    refusal,
)

LIMIT = 2048  # max_head_bytes of these tests


class Transport(asyncio.Transport):
    """Like asyncio's: writes after close are dropped, the protocol hears of the close on
    the next pass of the loop."""

    def __init__(self) -> None:
        super().__init__()
        self.written = b""
        self.closed = False
        self.protocol: Any = None

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 40000), "sockname": ("127.0.0.1", 8080)
                }.get(name, default)

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not self.closed:
            self.written += bytes(data)

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            asyncio.get_running_loop().call_soon(self.protocol.connection_lost, None)

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


async def ok_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    while (await receive()).get("more_body"):
        pass
    await send({"type": "http.response.start", "status": 204, "headers": []})
    await send({"type": "http.response.body", "body": b""})


def connection(limits: ClientLimits, state: ServerState | None = None
               ) -> tuple[Any, Transport, ClientStats]:
    stats = ClientStats()
    config = uvicorn.Config(ok_app, http=guarded_protocol(limits, stats), lifespan="off",
                            log_level="warning", timeout_keep_alive=30)
    config.load()
    protocol = config.http_protocol_class(config, state or ServerState(), {})
    transport = Transport()
    transport.protocol = protocol
    protocol.connection_made(transport)
    return protocol, transport, stats


def head(filler: int) -> bytes:
    return b"GET /x HTTP/1.1\r\nHost: t\r\nX-F: " + b"f" * filler + b"\r\n\r\n"


async def settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0)


@settings(max_examples=60, deadline=None)
@given(fillers=st.lists(st.integers(0, 2 * LIMIT), min_size=1, max_size=6),
       cuts=st.lists(st.integers(1, 3000), max_size=12))
async def test_a_head_is_refused_431_exactly_when_it_is_over_the_limit(fillers, cuts):
    """Pipelined requests in any split into reads: answered until the first head over the
    limit (measured as url and headers), which is 431 and the end of the connection."""
    protocol, transport, stats = connection(ClientLimits(max_head_bytes=LIMIT))
    data = b"".join(head(filler) for filler in fillers)
    at = 0
    for cut in [*cuts, len(data)]:
        piece, at = data[at:at + cut], at + cut
        if piece and not transport.closed:
            protocol.data_received(piece)
            await settle()
    await settle()
    sizes = [len(b"/x") + len(b"host") + 1 + 4 + len(b"x-f") + filler + 4 for filler in fillers]
    over = next((i for i, size in enumerate(sizes) if size > LIMIT), None)
    answered = transport.written.count(b"HTTP/1.1 204 ")
    if over is None:
        assert answered == len(fillers) and not transport.closed
        assert stats.heads_too_large == 0
    else:
        assert transport.closed and stats.heads_too_large == 1
        # 431 unless an earlier request of the same read was still being answered (then
        # the connection is closed without overtaking that answer).
        if transport.written.endswith(TOO_LARGE_431):
            assert answered == over
        else:
            assert answered < over
    if not transport.closed:
        transport.close()
    await settle()
    assert stats.open == 0


@pytest.mark.parametrize(("sent", "answer", "phase"), [
    (b"", b"", "head"),  # nothing sent: closed without an answer
    (b"GET /x HTTP/1.1\r\nHost: t\r\n", TIMEOUT_408, "head"),
    (b"POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: 9\r\n\r\nabc", TIMEOUT_408, "body"),
])
async def test_a_stalled_request_is_closed_after_its_timeout(sent, answer, phase):
    limits = ClientLimits(header_timeout_s=0.2, body_timeout_s=0.2)
    protocol, transport, stats = connection(limits)
    started = asyncio.get_running_loop().time()
    if sent:
        protocol.data_received(sent)
    while not transport.closed:
        await asyncio.sleep(0.01)
    elapsed = asyncio.get_running_loop().time() - started
    assert 0.2 <= elapsed < 0.2 + limits.tick_s + 0.2
    assert transport.written == answer
    assert (stats.head_timeouts, stats.body_timeouts) == \
        ((1, 0) if phase == "head" else (0, 1))


async def test_requests_that_keep_coming_are_never_timed_out():
    limits = ClientLimits(header_timeout_s=0.1, body_timeout_s=0.1)
    protocol, transport, stats = connection(limits)
    for _ in range(8):  # each whole request well within the timeout, the whole run beyond
        protocol.data_received(head(10))
        await asyncio.sleep(0.05)
    assert not transport.closed
    assert transport.written.count(b"HTTP/1.1 204 ") == 8
    assert stats.head_timeouts == stats.body_timeouts == 0
    transport.close()


async def test_past_the_cap_a_connection_is_answered_503_and_closed():
    state = ServerState()
    limits = ClientLimits(max_connections=2)
    kept = [connection(limits, state) for _ in range(2)]
    protocol, transport, _ = connection(limits, state)
    assert transport.closed
    assert transport.written.startswith(b"HTTP/1.1 503 ")
    assert b"\r\nretry-after: 1\r\n" in transport.written
    protocol.data_received(head(10))  # whatever the client sends next is not read
    assert transport.written.count(b"HTTP/1.1") == 1
    for _, other_transport, _ in kept:
        assert not other_transport.closed
        other_transport.close()


def test_refusals_are_whole_http_answers():
    answer = refusal(503, "Service Unavailable", (("retry-after", "1"),))
    head_part, _, body = answer.partition(b"\r\n\r\n")
    lines = head_part.split(b"\r\n")
    assert lines[0] == b"HTTP/1.1 503 Service Unavailable"
    assert b"connection: close" in lines and b"retry-after: 1" in lines
    assert f"content-length: {len(body)}".encode() in lines


def test_stats_render_as_prometheus_lines():
    stats = ClientStats()
    stats.head_timeouts, stats.body_timeouts, stats.refused = 3, 2, 1
    text = stats.prometheus("turnout_edge")
    assert 'turnout_edge_read_timeouts_total{phase="head"} 3\n' in text
    assert 'turnout_edge_read_timeouts_total{phase="body"} 2\n' in text
    assert "turnout_edge_connections_refused_total 1\n" in text


@pytest.mark.parametrize("bad", [dict(header_timeout_s=0), dict(body_timeout_s=-1),
                                 dict(max_connections=0), dict(max_head_bytes=100)])
def test_limits_that_cannot_work_are_refused(bad):
    with pytest.raises(ValueError):
        ClientLimits(**bad)


def test_ticks_cover_each_timeout():
    limits = ClientLimits(header_timeout_s=10, body_timeout_s=30)
    assert limits.tick_s == 5
    assert limits.ticks(10) == 2 and limits.ticks(30) == 6
    assert ClientLimits(header_timeout_s=1, body_timeout_s=0.3).ticks(1) == 7


def test_the_open_files_limit_is_raised_as_far_as_allowed():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        assert raise_open_files(min(hard, soft + 16)) >= min(hard, soft + 16)
        assert raise_open_files(1) == resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert open_files_needed(10_000, 2) == 20_256
