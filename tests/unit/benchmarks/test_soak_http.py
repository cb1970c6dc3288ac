"""The soak client's HTTP GET: answers parsed, refusals and deadlines told apart, and the
socket closed in every case (the server sees EOF)."""

from __future__ import annotations

import asyncio
import socket

import pytest
from hypothesis import given
from hypothesis import strategies as st

from benchmarks import soak_http


def test_a_redirect_is_parsed() -> None:
    answer = soak_http.parse_answer(b"HTTP/1.1 302 Found\r\nLocation: /x?cid=ab\r\n"
                                    b"content-length: 0\r\n\r\n")
    assert answer == soak_http.Answer(302, {"location": "/x?cid=ab", "content-length": "0"})


@given(st.binary(max_size=200))
def test_any_bytes_parse_or_fail_cleanly(raw: bytes) -> None:
    try:
        answer = soak_http.parse_answer(raw)
    except soak_http.Failed:
        return
    assert raw.startswith(b"HTTP/1.") and b"\r\n\r\n" in raw and answer.status >= 0


async def _serve(reply: bytes | None, seen: list[bytes]) -> tuple[asyncio.Server, str]:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.append(await reader.readuntil(b"\r\n\r\n"))
        if reply is None:  # never answers: the client's deadline must end it
            seen.append(await reader.read())  # b"" once the client closed
        else:
            writer.write(reply)
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    return server, f"http://127.0.0.1:{port}"


async def test_get_sends_close_and_reads_the_answer() -> None:
    seen: list[bytes] = []
    server, url = await _serve(b"HTTP/1.1 302 Found\r\nLocation: /o?cid=1\r\n\r\n", seen)
    async with server:
        answer = await soak_http.get(f"{url}/c/abc?x=1", {"User-Agent": "t"}, 2.0)
    assert answer.status == 302 and answer.headers["location"] == "/o?cid=1"
    assert seen[0].startswith(b"GET /c/abc?x=1 HTTP/1.1\r\n")
    assert b"Connection: close\r\n" in seen[0] and b"User-Agent: t\r\n" in seen[0]


async def test_a_silent_server_is_a_failure_within_the_deadline_and_the_socket_is_closed(
) -> None:
    seen: list[bytes] = []
    server, url = await _serve(None, seen)
    async with server:
        started = asyncio.get_running_loop().time()
        with pytest.raises(soak_http.Failed):
            await soak_http.get(f"{url}/c/abc", {}, 0.3)
        assert asyncio.get_running_loop().time() - started < 2.0
        for _ in range(100):
            if len(seen) == 2:
                break
            await asyncio.sleep(0.02)
    assert seen[1] == b""


async def test_nobody_listening_is_refused() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(soak_http.Refused):
        await soak_http.get(f"http://127.0.0.1:{port}/c/x", {}, 2.0)
