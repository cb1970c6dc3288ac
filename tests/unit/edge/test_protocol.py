"""edge.protocol.EdgeProtocol on a real socket: uvicorn in process, example graph, list sink.

Click paths are answered inside the parser callback; these tests pin what that must keep
from uvicorn's own cycle: keep-alive, pipelining order (also mixed with ASGI routes),
HEAD, HTTP/1.0, request bodies, percent-encoded paths, and the same answers.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest
import uvicorn

from tests.inprocess_edge import ListSink, in_process_edge
from turnout.config.compiled import CompiledGraph
from turnout.edge.app import EdgeApp
from turnout.edge.protocol import EdgeProtocol, find_edge
from turnout.events import TOPIC_CLICKS
from turnout.local.services import free_port

IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
          "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1")
Response = tuple[int, list[tuple[str, str]], bytes]


def request(path: str, method: str = "GET", version: str = "1.1", body: bytes = b"",
            ip: str = "89.160.20.113", extra: str = "") -> bytes:
    head = (f"{method} {path} HTTP/{version}\r\nHost: edge.test\r\nUser-Agent: {IPHONE}\r\n"
            f"X-Forwarded-For: {ip}\r\nAccept-Language: sv\r\n{extra}")
    if body:
        head += f"Content-Length: {len(body)}\r\n"
    return (head + "\r\n").encode() + body


async def read_response(reader: asyncio.StreamReader, head: bool = False) -> Response:
    raw = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    lines = raw.decode().split("\r\n")
    status = int(lines[0].split()[1])
    headers = [(name.lower(), value) for name, _, value in
               (line.partition(": ") for line in lines[1:] if line)]
    length = int(dict(headers).get("content-length", "0"))
    body = b"" if head else await asyncio.wait_for(reader.readexactly(length), 5)
    return status, headers, body


def header(response: Response, name: str) -> str:
    return next(value for key, value in response[1] if key == name)


class Counting:
    """ASGI middleware counting the requests that went through ASGI at all."""

    def __init__(self, app: EdgeApp) -> None:
        self.app = app
        self.calls = 0

    async def __call__(self, scope, receive, send) -> None:
        self.calls += 1
        await self.app(scope, receive, send)


@contextlib.asynccontextmanager
async def serving(compiled: CompiledGraph, http: str | type = EdgeProtocol,
                  keep_alive_s: float = 5) -> AsyncIterator[tuple[int, ListSink, Counting]]:
    async with in_process_edge(compiled, b"unit-secret") as (app, sink):
        port = free_port()
        counting = Counting(app)
        config = uvicorn.Config(counting, host="127.0.0.1", port=port, http=http, lifespan="off",
                                log_level="warning", access_log=False, loop="asyncio",
                                timeout_keep_alive=keep_alive_s)
        server = uvicorn.Server(config)
        task = asyncio.create_task(server.serve())
        while not server.started:
            await asyncio.sleep(0.01)
        try:
            yield port, sink, counting
        finally:
            server.should_exit = True
            await task


@pytest.fixture
async def edge(compiled: CompiledGraph) -> AsyncIterator[tuple[int, ListSink, Counting]]:
    async with serving(compiled) as running:
        yield running


async def exchange(port: int, data: bytes, heads: list[bool]) -> list[Response]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(data)
        await writer.drain()
        return [await read_response(reader, head) for head in heads]
    finally:
        writer.close()


async def test_keep_alive_connection_answers_every_click_in_order(edge):
    port, sink, asgi = edge
    answers = await exchange(port, request("/c/CAMP_A") * 3, [False] * 3)
    assert [status for status, _, _ in answers] == [302, 302, 302]
    ids = [header(answer, "location").split("cid=")[1].split("&")[0] for answer in answers]
    assert [event.click_id for event in sink.of(TOPIC_CLICKS)] == ids
    for answer in answers:
        assert header(answer, "content-length") == "0"
        assert header(answer, "cache-control") == "no-store"
        assert header(answer, "date")  # uvicorn's default headers are kept
        assert "connection" not in dict(answer[1])
    assert asgi.calls == 0  # answered inline, no ASGI cycle


async def test_pipelined_clicks_behind_asgi_routes_keep_their_order(edge):
    port, sink, asgi = edge
    data = request("/healthz") + request("/c/CAMP_A") + request("/healthz") + request("/c/CAMP_A")
    answers = await exchange(port, data, [False] * 4)
    assert [status for status, _, _ in answers] == [200, 302, 200, 302]
    assert answers[0][2] == answers[2][2]
    assert len(sink.of(TOPIC_CLICKS)) == 2
    assert asgi.calls == 4  # each click was pipelined behind an ASGI answer still under way


async def test_head_gets_the_headers_without_body_and_is_not_counted(edge):
    port, sink, _asgi = edge
    head, get = await exchange(port, request("/c/CAMP_A", "HEAD") + request("/c/CAMP_A"),
                               [True, False])
    assert head[0] == get[0] == 302
    assert header(head, "location").startswith("https://lp.example.com/")
    assert [event.click_id for event in sink.of(TOPIC_CLICKS)] == [
        header(get, "location").split("cid=")[1].split("&")[0]]


async def test_http_10_gets_its_answer_then_the_connection_closes(edge):
    port, _, _asgi = edge
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request("/c/CAMP_A", version="1.0"))
        answer = await read_response(reader)
        assert answer[0] == 302
        assert header(answer, "connection") == "close"
        assert await asyncio.wait_for(reader.read(), 5) == b""  # closed by the server
    finally:
        writer.close()


async def test_connection_close_header_is_honoured(edge):
    port, _, _asgi = edge
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request("/c/CAMP_A", extra="Connection: close\r\n"))
        assert header(await read_response(reader), "connection") == "close"
        assert await asyncio.wait_for(reader.read(), 5) == b""
    finally:
        writer.close()


async def test_other_methods_and_bodies(edge):
    port, sink, _asgi = edge
    data = (request("/c/CAMP_A", "POST", body=b"a=1") + request("/c/CAMP_A", body=b"hello")
            + request("/c/%43AMP_A"))
    post, with_body, encoded = await exchange(port, data, [False] * 3)
    assert post[0] == 405 and header(post, "allow") == "GET, HEAD"
    assert with_body[0] == encoded[0] == 302
    assert len(sink.of(TOPIC_CLICKS)) == 2


async def test_only_the_tables_paths_are_clicks(edge):
    port, sink, asgi = edge
    data = request("/click") + request("/clicks") + request("/cx") + request("/r/x")
    lander, clicks, cx, hop = await exchange(port, data, [False] * 4)
    assert [clicks[0], cx[0], hop[0]] == [404, 404, 404]
    assert clicks[2] == cx[2] == hop[2] == b"Not Found"  # Starlette's, not a click handler's
    assert lander[0] == 302  # no click context: the workspace fallback
    assert asgi.calls == 3 and sink.events == []  # /click was answered inline


async def test_absolute_form_and_fragments_read_the_same_path_and_query(edge):
    port, sink, _ = edge
    data = (request("http://edge.test/c/CAMP_A?sub1=abs") + request("/c/CAMP_A?sub1=frag#x")
            + request("/c/CAMP_A?sub1=plain"))
    answers = await exchange(port, data, [False] * 3)
    assert [answer[0] for answer in answers] == [302, 302, 302]
    assert [event.subs[0] for event in sink.of(TOPIC_CLICKS)] == ["abs", "frag", "plain"]


async def test_bad_input_gets_its_4xx_and_the_connection_keeps_serving(edge):
    port, _, _asgi = edge
    data = request("/c/" + "A" * 5000) + request("/c/NO_SUCH_CODE") + request("/c/CAMP_A")
    too_long, unknown, good = await exchange(port, data, [False] * 3)
    assert too_long[0] == 414
    assert unknown[0] in (302, 404)  # the workspace fallback URL, or 404 without one
    assert good[0] == 302


async def test_answers_equal_uvicorns_own_protocol(compiled: CompiledGraph):
    """Status, header names and destination are the same through both protocols."""
    visitor = "Cookie: tv=01M7YRQ9TWZTPGDRJS72CWB2C9\r\n"  # the same split on both
    ips = ("89.160.20.113", "2.125.160.216", "175.16.199.1", "214.78.0.1")
    requests = [request("/c/CAMP_A", ip=ip, extra=visitor) for ip in ips]
    requests += [request("/c/CAMP_A", "HEAD", extra=visitor), request("/click"),
                 request("/r?t=bogus")]
    heads = [False] * 4 + [True, False, False]

    def shape(response: Response) -> tuple[int, list[str], str]:
        location = dict(response[1]).get("location", "")
        return response[0], sorted(name for name, _ in response[1]), location.split("?")[0]

    shapes = []
    for http in (EdgeProtocol, "httptools"):
        async with serving(compiled, http) as (port, _, _):
            answers = await exchange(port, b"".join(requests), heads)
            shapes.append([shape(answer) for answer in answers])
    assert shapes[0] == shapes[1]


async def test_keep_alive_closes_idle_connections_only(compiled: CompiledGraph):
    async with serving(compiled, keep_alive_s=0.3) as (port, _, _):
        busy_reader, busy = await asyncio.open_connection("127.0.0.1", port)
        idle_reader, idle = await asyncio.open_connection("127.0.0.1", port)
        try:
            idle.write(request("/c/CAMP_A"))
            assert (await read_response(idle_reader))[0] == 302
            for _ in range(8):  # 1.2 s of clicks, 0.15 s apart: never idle for 0.3 s
                busy.write(request("/c/CAMP_A"))
                assert (await read_response(busy_reader))[0] == 302
                await asyncio.sleep(0.15)
            assert await asyncio.wait_for(idle_reader.read(), 1) == b""  # closed long ago
            busy.write(request("/c/CAMP_A"))
            assert (await read_response(busy_reader))[0] == 302
        finally:
            busy.close()
            idle.close()


async def test_expect_continue_still_reaches_asgi_routes(edge):
    port, _, _ = edge
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(b"POST /api/v1/events HTTP/1.1\r\nHost: edge.test\r\n"
                     b"Content-Type: application/json\r\nContent-Length: 2\r\n"
                     b"Expect: 100-continue\r\n\r\n")
        interim = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        assert interim.startswith(b"HTTP/1.1 100 Continue")
        writer.write(b"{}")
        assert (await read_response(reader))[0] in range(400, 500)  # answered, as bad input
    finally:
        writer.close()


def test_find_edge_looks_through_middleware():
    class Wrapper:
        def __init__(self, app: object) -> None:
            self.app = app

    edge = object.__new__(EdgeApp)
    assert find_edge(Wrapper(Wrapper(edge))) is edge
    assert find_edge(Wrapper(object())) is None
