"""The governor's pass and its HTTP face on real services: a task that fails is counted and
the others still run; a second governor on the same prefix does not run its tasks while the
first leads; /healthz, /readyz and /metrics answer."""

from __future__ import annotations

import httpx

from tests.integration.admin_support import clickhouse_database
from tests.integration.governor_support import control_with, governing, governor_settings
from turnout.config import examples
from turnout.config.io import load_graph
from turnout.governor.app import create_app
from turnout.governor.tick import Tick


class Failing:
    name = "failing"

    async def tick(self, tick: Tick) -> None:
        raise RuntimeError("boom")


class Counting:
    name = "counting"

    def __init__(self) -> None:
        self.seen: list[Tick] = []

    async def tick(self, tick: Tick) -> None:
        self.seen.append(tick)

    def metrics(self) -> dict[str, float]:
        return {"turnout_governor_counting_total": len(self.seen)}


async def test_a_failing_task_is_counted_and_the_pass_goes_on(
        postgres_url: str, redis_url: str, clickhouse_dsn: str) -> None:
    url = await control_with(postgres_url, load_graph(examples.GRAPH))
    counting, standby = Counting(), Counting()
    with clickhouse_database(clickhouse_dsn, "gov_service") as (dsn, database):
        settings = governor_settings(url, redis_url, dsn, database)
        async with governing(settings, [Failing(), counting]) as governor, \
                governing(settings, [standby]) as second:
            assert await governor.run_pass(now_ms=1_000)
            assert not await second.run_pass(now_ms=1_000)  # the first holds the lock
            assert await governor.run_pass(now_ms=2_000)
            assert [t.now_ms for t in counting.seen] == [1_000, 2_000]
            assert standby.seen == []
            tick = counting.seen[0]
            assert tick.epoch == governor.leadership.epoch > 0
            assert tick.graph is not None and "camp-a" in tick.graph.campaigns_by_id
            transport = httpx.ASGITransport(app=create_app(governor))
            async with httpx.AsyncClient(transport=transport, base_url="http://gov") as http:
                assert (await http.get("/healthz")).status_code == 200
                ready = await http.get("/readyz")
                assert ready.status_code == 200, ready.text
                assert ready.json()["leading"] is True
                text = (await http.get("/metrics")).text
            assert 'turnout_governor_task_errors_total{task="failing"} 2' in text
            assert 'turnout_governor_task_errors_total{task="counting"} 0' in text
            assert "turnout_governor_passes_total 2" in text
            assert "turnout_governor_counting_total 2" in text
            assert "turnout_governor_leading 1" in text
            await governor.leadership.release()
            assert await second.run_pass(now_ms=3_000)  # released: the standby leads
            assert second.leadership.epoch > tick.epoch
            assert [t.now_ms for t in standby.seen] == [3_000]
