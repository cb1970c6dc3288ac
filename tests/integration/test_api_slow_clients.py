"""The report/admin API server (`turnout api`) against slow and abusive clients: the same
protocol as the edge's (turnout.slow_clients) with its own settings."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import clickhouse_connect
import httpx
import pytest

from tests.integration.slow_client_support import connect, hold_until_closed, status_of
from turnout.api.server import serve
from turnout.api.settings import ApiSettings
from turnout.local.services import free_port
from turnout.reports.workspaces import GraphFacts, StaticFacts

LIMIT_S = 1.0
MAX_CONCURRENCY = 8


@pytest.fixture(scope="module")
async def api_port(clickhouse_dsn: str, redis_url: str) -> AsyncIterator[int]:
    settings = ApiSettings(clickhouse_dsn=clickhouse_dsn, redis_url=redis_url,
                           graph_prefix="api-slow-test", header_timeout_s=LIMIT_S,
                           body_timeout_s=LIMIT_S, keep_alive_s=LIMIT_S,
                           max_concurrency=MAX_CONCURRENCY)
    port = free_port()
    server = asyncio.create_task(serve(
        settings, lambda: clickhouse_connect.get_client(dsn=clickhouse_dsn), "127.0.0.1", port,
        StaticFacts(GraphFacts(1, {}))))
    async with httpx.AsyncClient() as client:
        for _ in range(200):
            with contextlib.suppress(httpx.TransportError):
                if (await client.get(f"http://127.0.0.1:{port}/healthz")).status_code == 200:
                    break
            await asyncio.sleep(0.05)
    try:
        yield port
    finally:
        server.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await server


async def healthy(port: int) -> bool:
    async with httpx.AsyncClient() as client:
        return (await client.get(f"http://127.0.0.1:{port}/healthz")).status_code == 200


async def test_stalled_and_idle_connections_are_closed(api_port):
    nothing, head, body, idle = await asyncio.gather(
        hold_until_closed(api_port, b""),
        hold_until_closed(api_port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n"),
        hold_until_closed(api_port, b"POST /api/v1/report HTTP/1.1\r\nHost: x\r\n"
                                    b"Content-Length: 50\r\n\r\n{"),
        hold_until_closed(api_port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"),
    )
    assert nothing.answer == b""
    assert status_of(head.answer) == 408
    # The API refuses a keyless report before reading its body; the stalled body then
    # ends the connection, without a second answer.
    assert status_of(body.answer) == 401 and body.answer.count(b"HTTP/1.1 ") == 1
    assert status_of(idle.answer) == 200
    for outcome in (nothing, head, body, idle):
        assert outcome.closed and LIMIT_S * 0.9 <= outcome.elapsed <= LIMIT_S + 2.5, outcome
    assert await healthy(api_port)


async def test_past_the_cap_a_connection_gets_503_with_retry_after(api_port):
    streams = [await connect(api_port) for _ in range(MAX_CONCURRENCY + 3)]
    try:
        answers = await asyncio.gather(*(reader.read(4096) for reader, _ in streams))
    finally:
        for _, writer in streams:
            writer.close()
    refused = [answer for answer in answers if answer]
    assert len(refused) == 3, answers
    assert all(status_of(answer) == 503 and b"\r\nretry-after: 1\r\n" in answer
               for answer in refused)
    await asyncio.sleep(0.1)  # the server hears of the closes
    assert await healthy(api_port)
