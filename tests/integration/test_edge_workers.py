"""`turnout edge --workers 2`: one scrape of /metrics counts the requests of both workers."""

from __future__ import annotations

import asyncio
import itertools
import os
import re
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.integration.edge_support import DESKTOP, EdgeProcess, fresh_connections, running_edge
from turnout.local.services import LocalStack

pytestmark = pytest.mark.slow

_SAMPLE = re.compile(r"^([a-z_]+)(\{[^}]*\})? (\S+)$", re.M)
_WORKER = re.compile(r'worker="(\d+)"')


@pytest.fixture(scope="module")
async def edge(stack: LocalStack, tmp_path_factory: pytest.TempPathFactory
               ) -> AsyncIterator[EdgeProcess]:
    async with running_edge(stack, tmp_path_factory.mktemp("edge-workers"),
                            {"TURNOUT_EDGE_WORKERS": "2"}) as process:
        yield process


@pytest.fixture
async def client(edge: EdgeProcess) -> AsyncIterator[httpx.AsyncClient]:
    async with fresh_connections(edge.base_url) as http:
        yield http


async def scrape(client: httpx.AsyncClient) -> tuple[int, dict[str, int], dict[str, int]]:
    """(clicks on /c/ by any status, requests by worker slot, worker_up by slot)."""
    response = await client.get("/metrics")
    assert response.status_code == 200
    clicks, requests, up = 0, {}, {}
    for name, labels, value in _SAMPLE.findall(response.text):
        if name == "turnout_edge_requests_total" and 'route="c"' in labels:
            clicks += int(value)
        elif name == "turnout_edge_worker_requests_total":
            requests[_WORKER.search(labels)[1]] = int(value)
        elif name == "turnout_edge_worker_up":
            up[_WORKER.search(labels)[1]] = int(value)
    return clicks, requests, up


async def click(client: httpx.AsyncClient, n: int) -> None:
    headers = {"x-forwarded-for": "214.78.0.1", "user-agent": DESKTOP}
    semaphore = asyncio.Semaphore(16)

    async def one() -> None:
        async with semaphore:
            response = await client.get("/c/CAMP_A", headers=headers)
            assert response.status_code == 302

    await asyncio.gather(*(one() for _ in range(n)))


async def settled(client: httpx.AsyncClient, expected: int, timeout: float = 5.0
                  ) -> list[int]:
    """Scrapes until the click counter reads `expected` (other workers publish once a
    second); every value seen on the way, which must never go down."""
    seen: list[int] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        clicks, _, _ = await scrape(client)
        seen.append(clicks)
        if clicks == expected:
            return seen
        await asyncio.sleep(0.1)
    raise AssertionError(f"click counter never reached {expected}: {seen[-5:]}")


def workers_of(edge: EdgeProcess) -> list[int]:
    assert edge.process is not None
    pid = edge.process.pid
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [int(child) for child in children
            if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes()]


def non_decreasing(values: list[int]) -> bool:
    return all(a <= b for a, b in itertools.pairwise(values))


async def spread(client: httpx.AsyncClient, baseline: dict[str, int], seen: list[int]
                 ) -> int:
    """Clicks in rounds of 100 until every worker slot counted more than `baseline`; how
    many were sent. Scrapes while the clicks go in are added to `seen`."""
    sent = 0
    for _ in range(20):  # the kernel picks which worker accepts a connection
        load = asyncio.create_task(click(client, 100))
        while not load.done():
            seen.append((await scrape(client))[0])
            await asyncio.sleep(0.05)
        await load
        sent += 100
        _, requests, _ = await scrape(client)
        if len(requests) == 2 and all(n > baseline.get(k, 0) for k, n in requests.items()):
            return sent
    raise AssertionError(f"one worker answered nothing: {requests}")


async def test_one_scrape_sums_both_workers(edge, client):
    seen = [(await scrape(client))[0]]
    assert seen == [0]
    sent = await spread(client, {}, seen)
    seen += await settled(client, sent)
    for _ in range(20):  # every scrape, whichever worker answers it, gives the sum
        clicks, requests, up = await scrape(client)
        seen.append(clicks)
        assert clicks == sent
        assert up == {"0": 1, "1": 1}
        assert sum(requests.values()) == sent  # /metrics itself is not a counted route
    assert non_decreasing(seen), seen


async def test_a_killed_worker_keeps_its_counts_and_its_successor_carries_on(edge, client):
    before, _, _ = await scrape(client)
    seen = [before]
    sent = await spread(client, (await scrape(client))[1], seen)
    seen += await settled(client, before + sent)
    await asyncio.sleep(1.5)  # both have published after the last click
    victim = workers_of(edge)[0]
    os.kill(victim, signal.SIGKILL)  # no shutdown: only what it published survives it
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        clicks, requests, _ = await scrape(client)
        seen.append(clicks)
        assert clicks == before + sent  # the dead worker's slot still counts
        workers = workers_of(edge)
        if victim not in workers and len(workers) == 2:
            break
        await asyncio.sleep(0.2)
    else:
        raise AssertionError(f"no replacement worker: {workers_of(edge)}")
    # The replacement takes the dead worker's slot and carries its counts on.
    more = await spread(client, requests, seen)
    seen += await settled(client, before + sent + more)
    assert (await scrape(client))[2] == {"0": 1, "1": 1}
    assert non_decreasing(seen), seen
