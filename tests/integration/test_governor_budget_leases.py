"""A CPC budget end to end (issue #12): CPC 0.10 and a budget of 5.00, two running edges
under concurrent load spend it by leases, the governor pauses the campaign when it is
spent, with one audit row by `governor` and one signed webhook."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
from pathlib import Path

import httpx
import orjson
import psycopg
import pytest

from tests.integration.admin_support import clickhouse_database
from tests.integration.edge_support import DESKTOP, EdgeProcess
from tests.integration.governor_support import control_with, governing, governor_settings, rows
from tests.integration.money_support import money_graph, unique_ws
from tests.integration.webhook_support import receiver
from turnout.config.meters import TOTAL, Meters
from turnout.control import webhook_endpoints
from turnout.control.entities import Actor
from turnout.governor.money import money_tasks
from turnout.governor.task_settings import WebhookSettings
from turnout.governor.webhooks import webhooks_task
from turnout.local.services import LocalStack

pytestmark = pytest.mark.slow
SECRET = "budget-webhook-secret-0123456789"
LIMIT = 5_000_000  # 5.00 in micro-units: 50 clicks at 0.10


async def test_a_cpc_budget_spent_through_two_edges_pauses_once_with_one_webhook(
        stack: LocalStack, postgres_url: str, redis_url: str, clickhouse_dsn: str,
        tmp_path: Path) -> None:
    ws = unique_ws()
    camp = f"{ws}-paid"
    graph = money_graph(ws, campaigns={camp: {
        "cost_model": {"type": "cpc", "value": "0.10"},
        "budget": {"amount": "5.00", "thresholds": [{"at": 100, "action": "pause"}]},
        "inactive": {"action": "url", "url": "https://www.example.com/over"}}})
    url = await control_with(postgres_url, graph)
    async with await psycopg.AsyncConnection.connect(url) as conn:
        await webhook_endpoints.create(conn, Actor(ws, "test"), webhook_endpoints.EndpointFields(
            id="hook", url="http://127.0.0.1:1/unset", events=["budget.threshold"],
            secret=SECRET))
    tasks = [*money_tasks(), webhooks_task(WebhookSettings(backoff_s=0.01, backoff_max_s=0.01))]
    async with receiver(200) as hook:
        async with await psycopg.AsyncConnection.connect(url) as conn:
            await conn.execute("UPDATE webhook_endpoints SET url = %s", (hook.url,))
            await conn.commit()
        with clickhouse_database(clickhouse_dsn, "gov_lease") as (dsn, database):
            settings = governor_settings(url, redis_url, dsn, database)
            async with governing(settings, tasks) as governor:
                assert await governor.run_pass()  # the first pass seeds the ledger
                env = {"TURNOUT_EDGE_LEASE_MAX_BLOCK": "10"}
                edges = [EdgeProcess(stack, tmp_path / name, prefix=settings.graph_prefix,
                                     extra_env=env) for name in ("a", "b")]
                try:
                    for edge in edges:
                        edge.start()
                    served = await spend_it(edges, camp.upper())
                    assert served == 50
                    meters = Meters(governor.redis, settings.graph_prefix)
                    key = meters.key("budget", camp, TOTAL)
                    deadline = time.monotonic() + 10
                    while (await meters.read(key)).spent < LIMIT:  # the edges settle
                        assert time.monotonic() < deadline, await meters.read(key)
                        await asyncio.sleep(0.1)
                    reading = await meters.read(key)
                    assert reading.granted == reading.spent == LIMIT  # overshoot 0
                    assert await governor.run_pass()
                    assert await governor.run_pass()  # nothing twice
                finally:
                    for edge in edges:
                        edge.stop()
    assert await rows(url, "SELECT status FROM campaigns WHERE id = %s", camp) == [("paused",)]
    audit = await rows(url, "SELECT action FROM audit WHERE actor = 'governor' AND "
                            "entity_id = %s", camp)
    assert audit == [("pause",)]
    assert len(hook.received) == 1
    sent = hook.received[0]
    timestamp = sent.headers["x-turnout-timestamp"]
    mac = hmac.new(SECRET.encode(), timestamp.encode() + b"." + sent.body, hashlib.sha256)
    assert sent.headers["x-turnout-signature"] == f"sha256={mac.hexdigest()}"
    body = orjson.loads(sent.body)
    assert body["event"] == "budget.threshold" and body["data"]["campaign_id"] == camp


async def spend_it(edges: list[EdgeProcess], code: str) -> int:
    """Bursts of 200 concurrent clicks over both edges until the budget is spent; the
    clicks served (never more than 50 at any moment)."""
    headers = {"x-forwarded-for": "214.78.0.1", "user-agent": DESKTOP}
    served = 0
    async with httpx.AsyncClient(timeout=10, limits=httpx.Limits(max_connections=64)) as http:
        for _ in range(20):
            answers = await asyncio.gather(*(
                http.get(f"{edges[i % 2].base_url}/c/{code}", headers=headers)
                for i in range(200)))
            assert {a.status_code for a in answers} == {302}
            locations = [a.headers["location"] for a in answers]
            served += sum(not u.startswith("https://www.example.com/over") for u in locations)
            assert served <= 50
            if served == 50:
                return served
            await asyncio.sleep(0.3)
    return served
