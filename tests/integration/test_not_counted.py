"""Nothing accepted is dropped (issue #10, finding 4): every conversion that cannot count
is stored with its reason, and the not-counted report shows it through the API, the CLI
and SQL. Real tansu, the ingest consumer in process, real chdb."""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

import clickhouse_connect
import httpx

from tests.integration.ingest_support import (
    click,
    conversion,
    ingesting,
    make_database,
    make_topics,
    produce,
    settings_for,
    unique,
    wait_for,
)
from tests.integration.test_api import _cli
from turnout.api.app import create_app
from turnout.api.keys import key_line, parse_keys
from turnout.api.settings import ApiSettings
from turnout.ingest.consumer import clickhouse_factory
from turnout.reports.workspaces import GraphFacts, StaticFacts, WorkspaceFacts

DAY = 86_400_000
TOKEN = "tok_not_counted"


async def test_conversions_that_cannot_count_are_kept_with_their_reason(
    kafka_bootstrap: str, clickhouse_dsn: str
) -> None:
    database = make_database(clickhouse_dsn)
    ch: Any = clickhouse_connect.get_client(dsn=clickhouse_dsn, database=database)
    topics = await make_topics(kafka_bootstrap)
    settings = settings_for(database, topics, attribution_grace_s=2.0)
    ws = unique("ws")
    now = int(time.time() * 1000)
    counted = click(ws, "c1")
    old = click(ws, "c1", ts_ms=now - 10 * DAY, attribution_window_ms=7 * DAY)
    head_only = click(ws, "c1")  # the id a HEAD answer carried: never stored as a click
    await produce(kafka_bootstrap, topics["clicks"], [counted, old])
    await produce(kafka_bootstrap, topics["conversions"], [
        conversion(click_id=counted.click_id, txid="ok", workspace_id=ws, network_id="n1",
                   payout_micros=10_000_000, payout_given=True, source="postback"),
        conversion(click_id=head_only.click_id, txid="h", workspace_id=ws, network_id="n1",
                   payout_micros=1_250_000, payout_given=True, source="postback"),
        conversion(click_id=old.click_id, txid="o", workspace_id=ws, network_id="n1",
                   payout_micros=2_000_000, payout_given=True, source="postback"),
        # Two unknown visitors without a txid: they used to share one sort key.
        conversion(visitor_id=unique("v"), workspace_id=ws, payout_micros=3_000_000,
                   payout_given=True, source="pixel"),
        conversion(visitor_id=unique("v"), workspace_id=ws, payout_micros=4_000_000,
                   payout_given=True, source="pixel"),
    ])
    rows = "SELECT count() FROM conversions_latest WHERE workspace_id = {w:String}"
    async with ingesting(kafka_bootstrap, clickhouse_factory(clickhouse_dsn), settings,
                         ("clicks", "conversions")) as running:
        await wait_for(lambda: ch.query(rows, parameters={"w": ws}).result_rows[0][0], 5,
                       timeout=40, running=running)
    stored = ch.query(
        "SELECT txid, source, attributed, in_window, not_counted_reason, revenue_micros "
        "FROM conversions_latest WHERE workspace_id = {w:String} ORDER BY source, payout_micros",
        parameters={"w": ws}).result_rows
    assert stored == [
        ("", "pixel", False, False, "visitor_not_found", 0),
        ("", "pixel", False, False, "visitor_not_found", 0),
        ("h", "postback", False, False, "click_not_found", 0),
        ("o", "postback", True, False, "outside_window", 0),
        ("ok", "postback", True, True, "", 10_000_000),
    ]

    expected = [
        {"reason": "visitor_not_found", "source": "pixel", "network": "", "status": "approved",
         "currency": "", "conversions": 2, "payout": "7.00"},
        {"reason": "click_not_found", "source": "postback", "network": "n1",
         "status": "approved", "currency": "", "conversions": 1, "payout": "1.25"},
        {"reason": "outside_window", "source": "postback", "network": "n1",
         "status": "approved", "currency": "", "conversions": 1, "payout": "2.00"},
    ]
    api = ApiSettings(clickhouse_dsn=clickhouse_dsn, database=database, pool_size=1,
                      api_keys=parse_keys(key_line(ws, TOKEN)))
    factory = lambda: clickhouse_connect.get_client(dsn=clickhouse_dsn,  # noqa: E731
                                                    database=database)
    known = StaticFacts(GraphFacts(1, {ws: WorkspaceFacts("UTC", "USD")}))
    auth = {"Authorization": f"Bearer {TOKEN}"}
    transport = httpx.ASGITransport(app=create_app(api, factory, known))
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as http:
        answer = await http.get("/api/v1/not-counted", params={"from": "all"}, headers=auth)
        assert answer.status_code == 200, answer.text
        assert answer.json()["rows"] == expected
        assert answer.json()["currency"] == "USD"
        csv = await http.get("/api/v1/not-counted", params={"from": "all", "format": "csv"},
                             headers=auth)
        assert csv.text.splitlines()[1] == "visitor_not_found,pixel,,approved,,2,7.00"
    code, out = _cli(["report", "--workspace", ws, "--not-counted", "--from", "all", "--tz",
                      "UTC", "--direct", "--dsn", clickhouse_dsn, "--database", database,
                      "--format", "csv"])
    assert code == 0 and out == csv.text
    # The SQL docs/analytics.md gives analysts.
    by_sql = ch.query(
        "SELECT not_counted_reason, count(), sum(payout_micros) FROM conversions_latest "
        "WHERE workspace_id = {w:String} AND NOT counted GROUP BY not_counted_reason "
        "ORDER BY not_counted_reason", parameters={"w": ws}).result_rows
    assert by_sql == [("click_not_found", 1, 1_250_000), ("outside_window", 1, 2_000_000),
                      ("visitor_not_found", 2, 7_000_000)]
    assert sum(Decimal(r["payout"]) for r in expected) == Decimal("10.25")


async def test_a_report_without_the_workspaces_facts_is_refused(clickhouse_dsn: str) -> None:
    api = ApiSettings(clickhouse_dsn=clickhouse_dsn, pool_size=1,
                      api_keys=parse_keys(key_line("ws_unknown", TOKEN)))
    factory = lambda: clickhouse_connect.get_client(dsn=clickhouse_dsn)  # noqa: E731
    auth = {"Authorization": f"Bearer {TOKEN}"}
    for facts, why in ((GraphFacts(), "no campaign graph could be loaded from Redis"),
                       (GraphFacts(3, {"other": WorkspaceFacts("UTC", "USD")}),
                        "graph version 3 has no such workspace")):
        transport = httpx.ASGITransport(app=create_app(api, factory, StaticFacts(facts)))
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as http:
            for path in ("/api/v1/report", "/api/v1/timeline?from=2026-01-01",
                         "/api/v1/not-counted"):
                answer = await http.get(path, headers=auth)
                assert answer.status_code == 503, (path, answer.text)
                assert why in answer.json()["error"] and "time zone" in answer.json()["error"]
