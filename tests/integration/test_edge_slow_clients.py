"""Slow and abusive clients against a real `turnout edge` with short limits (issue #15):
nothing sent, half a head, half a body, a trickled head, an idle keep-alive, too many
connections and a too large head each end the connection, counted, while clicks go on
being served and nothing is logged at ERROR."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import httpx
import pytest

from tests.integration.edge_support import EdgeProcess, fresh_connections, running_edge
from tests.integration.slow_client_support import (
    Outcome,
    click_request,
    connect,
    hold_until_closed,
    metric,
    status_of,
)
from turnout.local.services import LocalStack

LIMIT_S = 1.0  # the header, body and keep-alive timeouts of this edge
MAX_CONNECTIONS = 24
# Closed after its timeout, not before, and long before the 40 s issue #15 measured: a
# window for scheduling on a busy machine, not a performance figure.
LATE_S = LIMIT_S + 2.5


@pytest.fixture(scope="module")
async def edge(stack: LocalStack, tmp_path_factory: pytest.TempPathFactory
               ) -> AsyncIterator[EdgeProcess]:
    limits = {"TURNOUT_EDGE_HEADER_TIMEOUT_S": str(LIMIT_S),
              "TURNOUT_EDGE_BODY_TIMEOUT_S": str(LIMIT_S),
              "TURNOUT_EDGE_KEEP_ALIVE_S": str(LIMIT_S),
              "TURNOUT_EDGE_MAX_CONNECTIONS": str(MAX_CONNECTIONS)}
    async with running_edge(stack, tmp_path_factory.mktemp("edge-slow"), limits) as process:
        yield process


@pytest.fixture
async def client(edge: EdgeProcess) -> AsyncIterator[httpx.AsyncClient]:
    async with fresh_connections(edge.base_url) as http:
        yield http
        # Whatever the test did, the edge still answers clicks.
        assert (await http.get("/c/CAMP_A")).status_code == 302


async def test_stalled_requests_are_closed_and_counted(edge, client):
    before = await client.get("/metrics")
    head = b"GET /c/CAMP_A HTTP/1.1\r\nHost: x\r\nUser-Agent: slow"
    body = (b"POST /postback HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 100\r\n\r\n{\"clickid\":")
    trickled = b"GET /c/CAMP_A HTTP/1.1\r\nHost: x\r\n" + b"X-A: b\r\n" * 40

    async def open_meanwhile() -> float:
        await asyncio.sleep(LIMIT_S / 2)
        return metric((await client.get("/metrics")).text, "turnout_edge_connections")

    nothing, partial_head, partial_body, trickle, idle, held = await asyncio.gather(
        hold_until_closed(edge.port, b""),
        hold_until_closed(edge.port, head),
        hold_until_closed(edge.port, body),
        # A byte every 50 ms: progress does not move the head's deadline.
        hold_until_closed(edge.port, trickled, pace_s=0.05),
        # One whole click, answered, then silence: the keep-alive timeout closes it.
        hold_until_closed(edge.port, click_request()),
        open_meanwhile(),
    )
    assert held >= 6  # the five above and the scrape's own
    assert nothing == Outcome(b"", closed=True, elapsed=nothing.elapsed)
    for stalled in (partial_head, partial_body, trickle):
        assert status_of(stalled.answer) == 408, stalled
        assert b"connection: close" in stalled.answer.lower()
    assert status_of(idle.answer) == 302
    for outcome in (nothing, partial_head, partial_body, trickle, idle):
        assert outcome.closed
        assert LIMIT_S * 0.9 <= outcome.elapsed <= LATE_S, outcome
    after = await client.get("/metrics")
    timeouts = "turnout_edge_read_timeouts_total"
    assert metric(after.text, timeouts, 'phase="head"') - \
        metric(before.text, timeouts, 'phase="head"') == 3  # nothing, half a head, trickle
    assert metric(after.text, timeouts, 'phase="body"') - \
        metric(before.text, timeouts, 'phase="body"') == 1


async def test_past_the_cap_a_connection_gets_503_with_retry_after(edge, client):
    extra = 6
    before = metric((await client.get("/metrics")).text,
                    "turnout_edge_connections_refused_total")
    streams = [await connect(edge.port) for _ in range(MAX_CONNECTIONS + extra)]
    try:
        answers = await asyncio.gather(*(reader.read(4096) for reader, _ in streams))
        refused = [answer for answer in answers if answer]
        # The scrape's connection just before may not be gone yet: one more is refused then.
        assert extra <= len(refused) <= extra + 1, answers
        for answer in refused:
            assert status_of(answer) == 503
            lowered = answer.lower()
            assert b"\r\nretry-after: 1\r\n" in lowered
            assert b"\r\nconnection: close\r\n" in lowered
    finally:
        for _, writer in streams:
            writer.close()
    metrics = (await client.get("/metrics")).text
    assert metric(metrics, "turnout_edge_connections_refused_total") - before == len(refused)
    # Once they are gone, new connections are served again.
    deadline = time.monotonic() + LATE_S
    while metric((await client.get("/metrics")).text, "turnout_edge_connections") > 2:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)
    assert (await client.get("/c/CAMP_A")).status_code == 302


@pytest.mark.parametrize("pieces", [1, 9], ids=["one-write", "nine-writes"])
async def test_a_head_over_64_kib_is_431(edge, client, pieces):
    before = metric((await client.get("/metrics")).text, "turnout_edge_heads_too_large_total")
    head = click_request(b"X-Filler: " + b"f" * 1000 + b"\r\n", repeat=70)
    outcome = await hold_until_closed(edge.port, head, pieces=pieces)
    assert status_of(outcome.answer) == 431, outcome
    assert outcome.closed and outcome.elapsed < LIMIT_S
    after = metric((await client.get("/metrics")).text, "turnout_edge_heads_too_large_total")
    assert after - before == 1
    # 60 KiB of headers is within the limit: an ordinary click.
    fine = await hold_until_closed(edge.port, click_request(b"X-Filler: " + b"f" * 1000
                                                            + b"\r\n", repeat=60))
    assert status_of(fine.answer) == 302


def test_no_error_logged(edge):
    # Runs after the tests above: refusals and timeouts are answers, not errors.
    log = edge.log()
    assert log
    assert " ERROR " not in log and "Traceback" not in log, log[-3000:]
