"""Tracking domains on real services: three customers use the code SUMMER, two on domains
of their own and one on the default domain; a real edge routes each click by its Host,
ingest stores it in its workspace, and each workspace's report (API and SQL) shows its own
clicks and money only (SPEC §4)."""

from __future__ import annotations

import asyncio
import uuid
from decimal import Decimal
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import clickhouse_connect
import httpx
import pytest

from tests.integration.e2e_support import caught_up, ingest_counts, report_api
from tests.integration.edge_support import DESKTOP, EdgeProcess, publish
from tests.integration.ingest_support import ingesting, make_database, settings_for
from tests.two_domains import CODE, DOMAINS, two_domain_graph
from turnout.events import TOPIC_CLICKS, TOPIC_CONVERSIONS, TOPIC_DLQ, TOPIC_EVENTS
from turnout.ingest.consumer import clickhouse_factory
from turnout.local.services import LocalStack

pytestmark = pytest.mark.slow

# Per workspace: the Host its clicks are sent with, how many, and the payouts of the
# postbacks for its first clicks (None: the offer's default payout).
PLAN = {
    "a": (DOMAINS["a"].upper() + ":8080", 6, ("12.34", None)),
    "b": (DOMAINS["b"], 4, (None,)),
    "c": ("127.0.0.1", 5, ("1.50", "2.25", None)),
}
DEFAULT_PAYOUT = {"a": Decimal("10.00"), "b": Decimal("7.00"), "c": Decimal("3.00")}


async def _clicks(http: httpx.AsyncClient, host: str, count: int, shop: str) -> list[str]:
    ids = []
    for n in range(count):
        response = await http.get(f"/c/{CODE}", params={"zone": f"z{n}"},
                                  headers={"host": host, "user-agent": DESKTOP,
                                           "x-forwarded-for": "214.78.0.1"})
        assert response.status_code == 302, response.text
        location = urlsplit(response.headers["location"])
        assert location.hostname == shop, (host, location)
        ids.append(parse_qs(location.query)["c"][0])
    return ids


@pytest.mark.timeout(240)
async def test_two_workspaces_on_two_domains_route_and_report_separately(
        stack: LocalStack, clickhouse_dsn: str, tmp_path: Path) -> None:
    suffix = f"_{uuid.uuid4().hex[:8]}"
    workspaces = {ws: f"{ws}{suffix}" for ws in PLAN}
    graph = two_domain_graph(suffix)
    edge = EdgeProcess(stack, tmp_path / "edge")
    await publish(stack.redis_url, edge.prefix, graph)
    await asyncio.to_thread(edge.start)
    database = await asyncio.to_thread(make_database, clickhouse_dsn)
    topics = {"clicks": TOPIC_CLICKS, "conversions": TOPIC_CONVERSIONS,
              "events": TOPIC_EVENTS, "dlq": TOPIC_DLQ}
    settings = settings_for(database, topics, batch_size=1000, batch_wait_s=0.3,
                            attribution_grace_s=10.0)
    revenue: dict[str, Decimal] = {}
    try:
        async with ingesting(stack.kafka_bootstrap, clickhouse_factory(clickhouse_dsn),
                             settings, ("clicks", "conversions")) as running, \
                httpx.AsyncClient(base_url=edge.base_url, timeout=10) as http:
            for ws, (host, count, payouts) in PLAN.items():
                ids = await _clicks(http, host, count, f"shop.{ws}.example")
                revenue[ws] = Decimal(0)
                for n, (click_id, payout) in enumerate(zip(ids, payouts, strict=False)):
                    # Postbacks are host-independent: sent to the edge's own address.
                    params = {"clickid": click_id, "txid": f"t{n}",
                              "secret": f"secret-of-{workspaces[ws]}-network"}
                    if payout is not None:
                        params["payout"] = payout
                    answer = await http.get("/postback", params=params)
                    assert answer.status_code == 200, answer.text
                    revenue[ws] += DEFAULT_PAYOUT[ws] if payout is None else Decimal(payout)

            def ingest_alive() -> None:
                if running.task.done():
                    running.task.result()
                    raise AssertionError("ingest stopped early")

            for ws, (_, count, payouts) in PLAN.items():
                expected = {"clicks": count, "lp_clicks": 0,
                            "conversions": {"approved": len(payouts)}}
                await caught_up(ingest_counts(clickhouse_dsn, database, workspaces[ws]),
                                expected, 120, ingest_alive)
    finally:
        edge.stop()

    sql = clickhouse_connect.get_client(dsn=clickhouse_dsn, database=database)
    stored = sql.query(
        "SELECT workspace_id, campaign_id, campaign_code, count() FROM clicks FINAL"
        " WHERE workspace_id IN {w:Array(String)} GROUP BY ALL ORDER BY workspace_id",
        parameters={"w": list(workspaces.values())}).result_rows
    assert stored == [(workspaces[ws], f"summer-{workspaces[ws]}", CODE, PLAN[ws][1])
                      for ws in PLAN]

    for ws, workspace in workspaces.items():
        token = f"tok_domains_{ws}"
        async with report_api(clickhouse_dsn, database, stack.redis_url, edge.prefix,
                              workspace, token) as api, httpx.AsyncClient(timeout=60) as http:
            response = await http.get(f"{api}/api/v1/report", params={
                "group_by": "campaign", "metrics": "clicks,conversions,revenue",
                "from": "all"}, headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 200, response.text
        rows = [(row["campaign"], int(row["clicks"]), int(row["conversions"]),
                 Decimal(str(row["revenue"]))) for row in response.json()["rows"]]
        assert rows == [(f"summer-{workspace}", PLAN[ws][1], len(PLAN[ws][2]), revenue[ws])]
    sql.command(f"DROP DATABASE IF EXISTS {database}")
