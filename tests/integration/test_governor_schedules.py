"""Schedules (SPEC §11): a campaign ending "now" stops serving within seconds (the edge
reads the end from the compiled graph) and the governor completes it, once, audited by
`governor`, with one campaign.transition notification."""

from __future__ import annotations

import datetime as dt
import time
import uuid
from pathlib import Path

import msgspec

from tests.integration.admin_support import clickhouse_database
from tests.integration.edge_support import EdgeProcess, edge_client
from tests.integration.governor_support import control_with, governing, governor_settings, rows
from tests.integration.publish_support import eventually
from turnout.config import examples
from turnout.config.io import load_graph
from turnout.config.model import Graph, Schedule
from turnout.governor.schedules import Schedules
from turnout.local.services import LocalStack

US = {"X-Forwarded-For": "214.78.0.1",
      "User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0"}


def ending_at(graph: Graph, campaign_id: str, end: dt.datetime) -> Graph:
    campaigns = tuple(
        msgspec.structs.replace(c, schedule=Schedule(start=c.schedule.start,
                                                     end=end.isoformat(timespec="seconds")))
        if c.id == campaign_id else c for c in graph.campaigns)
    return msgspec.structs.replace(graph, campaigns=campaigns)


async def test_a_campaign_ending_now_stops_serving_and_is_completed_once(
        stack: LocalStack, postgres_url: str, redis_url: str, clickhouse_dsn: str,
        tmp_path: Path) -> None:
    # The edge process starts (seconds on a busy machine) before the end's clock does, so
    # the campaign is still running when the edge first serves it.
    prefix = f"gov-test-{uuid.uuid4().hex[:8]}"
    edge = EdgeProcess(stack, tmp_path / "edge", prefix=prefix)
    edge.launch()
    try:
        end = (dt.datetime.now(dt.UTC) + dt.timedelta(seconds=5)).replace(microsecond=0)
        end_ms = int(end.timestamp() * 1000)
        url = await control_with(postgres_url,
                                 ending_at(load_graph(examples.GRAPH), "camp-a", end))
        tasks = [Schedules()]
        with clickhouse_database(clickhouse_dsn, "gov_sched") as (dsn, database):
            settings = governor_settings(url, redis_url, dsn, database, prefix=prefix)
            async with governing(settings, tasks) as governor, edge_client(edge) as http:
                edge.wait_ready()
                assert (await http.get("/c/CAMP_A", headers=US)).status_code == 302

                async def stopped() -> bool:
                    return (await http.get("/c/CAMP_A", headers=US)).status_code == 404

                await eventually(stopped, timeout=15, step=0.1)
                late_s = time.time() - end_ms / 1000
                assert late_s < 2.0, f"served {late_s:.2f} s past its end"
                # Before its end the governor leaves it alone.
                assert await governor.run_pass(now_ms=end_ms - 1)
                assert (await rows(url, "SELECT status FROM campaigns WHERE id = 'camp-a'")
                        ) == [("active",)]
                assert await governor.run_pass(now_ms=end_ms + 500)
                assert await governor.run_pass(now_ms=end_ms + 2500)  # nothing twice
    finally:
        edge.stop()
    assert await rows(url, "SELECT status FROM campaigns WHERE id = 'camp-a'") == [("completed",)]
    audit = await rows(url, "SELECT actor, action FROM audit WHERE entity_id = 'camp-a' "
                            "AND actor = 'governor'")
    assert audit == [("governor", "complete")]
    sent = await rows(url, "SELECT event, data->>'campaign_id', data->>'done' FROM notifications")
    assert sent == [("campaign.transition", "camp-a", "true")]
    assert tasks[0].completed == 1
