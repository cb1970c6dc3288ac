"""The governor's loop when Redis or PostgreSQL is away: passes are skipped and counted,
and tried again after the reconnect backoff rather than a whole pass interval later."""

from __future__ import annotations

import asyncio

import redis.exceptions

from turnout.control.errors import ControlUnavailable
from turnout.governor.service import Governor
from turnout.governor.settings import GovernorSettings

FAILURES = (redis.exceptions.ConnectionError("refused"),
            ControlUnavailable("PostgreSQL is unavailable: test"),
            redis.exceptions.TimeoutError("timed out"))


def test_unreachable_stores_skip_passes_which_are_retried_within_the_cap():
    asyncio.run(_skipping())


async def _skipping() -> None:
    # A pass interval far longer than the test: only the backoff can bring the retries.
    settings = GovernorSettings(postgres_url="postgresql://unused", interval_s=3600,
                                reconnect_base_s=0.01, reconnect_cap_s=0.05)
    governor = Governor(settings, tasks=(), make_clickhouse=lambda: None)
    outcomes = iter(FAILURES)
    done = asyncio.Event()

    async def run_pass(now_ms: int | None = None) -> bool:
        failure = next(outcomes, None)
        if failure is not None:
            raise failure
        governor.passes += 1
        done.set()
        return True

    governor.run_pass = run_pass  # type: ignore[method-assign]
    loop = asyncio.create_task(governor._run())
    try:
        await asyncio.wait_for(done.wait(), 30)
    finally:
        governor._stopping.set()
        await loop
        await governor.redis.aclose()
        await governor.http.aclose()
    metrics = governor.metrics()
    assert metrics["turnout_governor_passes_skipped_total"] == len(FAILURES)
    assert metrics["turnout_governor_passes_total"] == 1
    assert governor.leadership.epoch == 0  # Redis away: not leading
