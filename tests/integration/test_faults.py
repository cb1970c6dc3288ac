"""Faults with real processes and exact counts: a frozen broker, ingest SIGKILLed twice,
an edge SIGTERMed under load. Each: every click the edge accepted stored once, in the raw
table and in the rollups, and the time to recover printed (pytest -s)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.integration.edge_support import EdgeProcess
from tests.integration.faults_support import (
    IngestProcess,
    Ledger,
    clickhouse_unwritable,
    faults_edge,
    figure,
    paced_clicks,
    sink_drained,
    stored,
)
from turnout.local.ingest_lag import wait_ingested
from turnout.local.services import LocalStack

pytestmark = pytest.mark.slow

RATE = 100.0  # clicks a second: small, the machine is shared
KEEPING_UP = int(2 * RATE)  # records behind of an ingest that keeps up with the load
LONGEST_LOAD_S = 60.0  # a load that runs until its fault is over stops here at the latest


@pytest.fixture
def workspace() -> str:
    return f"faults-{uuid.uuid4().hex[:8]}"


@pytest.fixture
async def edge(stack: LocalStack, tmp_path: Path, workspace: str
               ) -> AsyncIterator[EdgeProcess]:
    async with faults_edge(stack, tmp_path / "edge", workspace) as running:
        yield running


@pytest.fixture
def ingest(stack: LocalStack, tmp_path: Path) -> Iterator[IngestProcess]:
    process = IngestProcess(stack, tmp_path / "ingest")
    process.start()
    yield process
    process.stop()


async def settle(edge: EdgeProcess, ingest: IngestProcess, timeout: float = 60.0) -> float:
    """Seconds until the edge has sent everything and ingest has committed all of it."""
    started = time.monotonic()
    await sink_drained(edge, timeout)
    await ingest.caught_up(timeout)
    return time.monotonic() - started


async def test_broker_frozen_mid_load(stack: LocalStack, edge: EdgeProcess,
                                      ingest: IngestProcess, workspace: str) -> None:
    ledger = Ledger()
    resumed: list[float] = []

    async def freeze() -> None:
        await asyncio.sleep(1.5)
        stack.kafka.pause()
        try:
            await asyncio.sleep(3.0)
        finally:
            stack.kafka.resume()
            resumed.append(time.monotonic())

    # The load ends as the broker resumes: recovery is the spool's replay and its ingest.
    await asyncio.gather(paced_clicks(edge, ledger, RATE, 4.5), freeze())
    await settle(edge, ingest)
    recovered = time.monotonic() - resumed[0]
    ingest.stop()
    found = stored(ingest, workspace)
    found.assert_exact(ledger)
    assert not ledger.refused, ledger.refused[:5]
    figure("tansu SIGSTOP 3 s", ledger, found, recovered_after_sigcont=recovered)


async def test_ingest_sigkilled_twice_mid_batch(stack: LocalStack, edge: EdgeProcess,
                                                ingest: IngestProcess,
                                                workspace: str) -> None:
    ledger = Ledger()
    back: list[float] = []  # seconds from each restart until ingest keeps up again
    behind_at_kill: list[int] = []

    load_over = asyncio.Event()

    async def kill_twice() -> None:
        await ingest.keeping_up(0, KEEPING_UP)
        for _ in range(2):
            # Killed while it keeps up with the load: a batch is always in flight then.
            behind_at_kill.append(
                await wait_ingested(stack.kafka_bootstrap, ingest.settings, 0))
            stored_at_kill = await ingest.committed_clicks()
            ingest.kill()
            ingest.start()
            back.append(await ingest.keeping_up(stored_at_kill, KEEPING_UP))
        await asyncio.sleep(1.0)
        load_over.set()

    # The load goes on until the second restart keeps up: a kill always finds it running.
    await asyncio.gather(paced_clicks(edge, ledger, RATE, LONGEST_LOAD_S, load_over),
                         kill_twice())
    await sink_drained(edge)
    caught_up = await ingest.caught_up(60)
    ingest.stop()
    found = stored(ingest, workspace)
    found.assert_exact(ledger)
    assert ingest.starts == 3
    assert all(behind > 0 for behind in behind_at_kill), behind_at_kill
    print(f"\nrecords uncommitted at each SIGKILL: {behind_at_kill}")
    figure("ingest SIGKILL x2", ledger, found, first_restart_keeping_up=back[0],
           second_restart_keeping_up=back[1], caught_up_after_load=caught_up)


async def test_edge_sigterm_under_load(stack: LocalStack, edge: EdgeProcess,
                                       ingest: IngestProcess, workspace: str) -> None:
    ledger = Ledger()
    timings: dict[str, float] = {}

    async def sigterm() -> None:
        await asyncio.sleep(2.0)
        started = time.monotonic()
        edge.terminate()
        # uvicorn re-raises the SIGTERM after its graceful shutdown.
        assert await asyncio.to_thread(edge.wait, 30) in (0, -15)
        timings["drain"] = time.monotonic() - started
        assert "Application shutdown complete" in edge.log(), edge.log()[-2000:]
        started = time.monotonic()
        await asyncio.to_thread(edge.start)  # the same port and spool
        timings["restart"] = time.monotonic() - started

    await asyncio.gather(paced_clicks(edge, ledger, RATE, 6.0), sigterm())
    timings["settled"] = await settle(edge, ingest)
    ingest.stop()
    found = stored(ingest, workspace)
    found.assert_exact(ledger)
    # Clicks sent while no edge listened were refused connections, never a 5xx.
    assert all(not reason.startswith("5") for reason in ledger.refused), ledger.refused
    figure("edge SIGTERM", ledger, found, **timings)


async def test_clickhouse_unwritable_pauses_ingest_without_committing(
        stack: LocalStack, edge: EdgeProcess, ingest: IngestProcess, workspace: str) -> None:
    ledger = Ledger()
    committed: list[int] = []
    timings: dict[str, float] = {}

    load_over = asyncio.Event()

    async def outage() -> None:
        await ingest.keeping_up(0, KEEPING_UP)
        with clickhouse_unwritable(ingest):
            await asyncio.sleep(0.5)  # a commit of a batch stored before may still land
            committed.append(await ingest.committed_clicks())
            await asyncio.sleep(3.0)
            committed.append(await ingest.committed_clicks())
        timings["keeping_up_after_outage"] = await ingest.keeping_up(committed[-1],
                                                                     KEEPING_UP)
        await asyncio.sleep(1.0)
        load_over.set()

    await asyncio.gather(paced_clicks(edge, ledger, RATE, LONGEST_LOAD_S, load_over),
                         outage())
    timings["settled"] = await settle(edge, ingest)
    ingest.stop()
    assert committed[0] == committed[1], committed  # nothing committed while it failed
    assert "retrying in" in ingest.log()
    found = stored(ingest, workspace)
    found.assert_exact(ledger)
    figure("ClickHouse unwritable 3.5 s", ledger, found, **timings)
