"""The currency of a conversion that names none (issue #12 item 8), through real tansu and
chdb: an offer paying in USD in a EUR workspace is counted in USD, then converted."""

from __future__ import annotations

import datetime as dt
import time
from decimal import Decimal
from typing import Any

import clickhouse_connect
import pytest

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
from turnout.config.fx_rates import parse_csv
from turnout.edge.postback import money_of
from turnout.ingest.consumer import clickhouse_factory
from turnout.reports.fx_store import import_rates
from turnout.reports.run import run_report
from turnout.reports.spec import build_spec


@pytest.fixture(scope="module")
def ch(clickhouse_dsn: str) -> Any:
    client = clickhouse_connect.get_client(dsn=clickhouse_dsn)
    client.database = make_database(clickhouse_dsn)
    return client


async def test_an_unnamed_currency_is_the_offers_and_reports_convert_it(
    kafka_bootstrap: str, clickhouse_dsn: str, ch: Any
) -> None:
    topics = await make_topics(kafka_bootstrap)
    settings = settings_for(ch.database, topics, attribution_grace_s=2.0)
    ws = unique("ws")
    now = int(time.time() * 1000)
    # What the edge sends for a click on a USD offer (12.00 default) of a EUR workspace.
    usd = click(ws, "c1", offer_id="vpn-us", network_id="n1", destination_kind="offer",
                offer_payout_micros=12_000_000, offer_currency="USD", ts_ms=now - 1000)
    never_stored = click(ws, "c1")

    def postback(of: Any, txid: str, **params: str) -> Any:
        # The money fields as the edge's /postback handler fills them from the query.
        return conversion(click_id=of.click_id, txid=txid, workspace_id=ws, network_id="n1",
                          ts_ms=now, **money_of(params, "EUR"))

    await produce(kafka_bootstrap, topics["clicks"], [usd])
    await produce(kafka_bootstrap, topics["conversions"], [
        postback(usd, "no-payout"),
        postback(usd, "no-currency", payout="5"),
        postback(usd, "gbp", payout="7", currency="GBP"),
        postback(usd, "default-gbp", currency="GBP"),  # the default is in USD regardless
        postback(never_stored, "orphan", payout="9"),
    ])
    async with ingesting(kafka_bootstrap, clickhouse_factory(clickhouse_dsn), settings,
                         ("clicks", "conversions")) as running:
        rows = lambda: ch.query(  # noqa: E731
            "SELECT count() FROM conversions_latest WHERE workspace_id = {w:String}",
            parameters={"w": ws}).result_rows[0][0]
        await wait_for(rows, 5, timeout=30, running=running)
    stored = ch.query(
        "SELECT txid, payout_micros, currency, currency_source, counted FROM conversions_latest"
        " WHERE workspace_id = {w:String} ORDER BY txid", parameters={"w": ws}).result_rows
    assert [tuple(r) for r in stored] == [
        ("default-gbp", 12_000_000, "USD", "offer", True),
        ("gbp", 7_000_000, "GBP", "request", True),
        ("no-currency", 5_000_000, "USD", "offer", True),
        ("no-payout", 12_000_000, "USD", "offer", True),
        ("orphan", 9_000_000, "EUR", "workspace", False),  # no click: the workspace's
    ]
    assert ch.query("SELECT offer_currency FROM clicks WHERE click_id = {c:String}",
                    parameters={"c": usd.click_id}).result_rows == [("USD",)]

    today = dt.datetime.fromtimestamp(now / 1000, dt.UTC).date().isoformat()
    spec = build_spec(workspace=ws, currency="EUR", start=today, end=today,
                      metrics="conversions,held_conversions,revenue")
    held = run_report(ch, spec).records()
    # Before any rate: the USD and GBP ones are held, nothing is summed as if it were EUR.
    assert held == [{"conversions": 4, "held_conversions": 4, "revenue": Decimal(0)}]
    import_rates(ch, parse_csv(f"date,currency,rate\n{today},USD,1.25\n{today},GBP,0.8\n",
                               "EUR"), "test")
    # 12 / 1.25 + 5 / 1.25 + 7 / 0.8 + 12 / 1.25 = 9.6 + 4 + 8.75 + 9.6
    assert run_report(ch, spec).records() == [
        {"conversions": 4, "held_conversions": 0, "revenue": Decimal("31.95")}]

