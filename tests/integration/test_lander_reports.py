"""Lander traffic on real services (issue #10, findings 1, 2, 3 and 5): a real `turnout
edge`, tansu, ingest and chdb; a few visitors through landers and a two-step funnel, some
clicking through (with the cookie, or without it through the signed `{lp_cid}`), and
postbacks. Reports by offer, network and lander through the API, `turnout report` and SQL
must equal the ledger below, worked out by hand from docs/analytics.md's definitions."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import clickhouse_connect
import httpx
import msgspec
import orjson
import pytest

from tests.integration.e2e_support import (
    caught_up,
    example_in_workspace,
    ingest_counts,
    report_api,
)
from tests.integration.edge_support import ROOT, EdgeProcess, publish
from tests.integration.ingest_support import ingesting, make_database, settings_for
from turnout.config.model import Graph
from turnout.events import TOPIC_CLICKS, TOPIC_CONVERSIONS, TOPIC_DLQ, TOPIC_EVENTS
from turnout.ingest.consumer import clickhouse_factory
from turnout.local.services import LocalStack
from turnout.reports.query import build_query
from turnout.reports.run import execute
from turnout.reports.spec import build_spec

pytestmark = pytest.mark.slow

TOKEN = "tok_lander_reports"
METRICS = ("clicks", "lp_views", "lp_clicks", "conversions", "revenue", "cost")
IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
          "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1")
WINDOWS = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
           "Chrome/124.0.0.0 Safari/537.36")
RUSSIA, SWEDEN = "2a02:d0c0::1", "89.160.20.113"
ALPHA, BETA = "alpha-postback-secret-01", "beta-postback-secret-02"
ALPHA_IP = "198.51.100.7"  # alpha-net's allowlist
STORIES_CPM = Decimal("0.0021")  # summer-stories: CPM 2.10 -> per click


def _graph(workspace: str) -> Graph:
    """The example graph; lander B passes the signed cid, dating-ru asks for two sub-ids."""
    graph = example_in_workspace(workspace)
    landers = tuple(msgspec.structs.replace(lp, url=lp.url.replace("{clickid}", "{lp_cid}"))
                    if lp.id == "lp-b" else lp for lp in graph.landers)
    offers = tuple(msgspec.structs.replace(o, url=o.url + "&z={sub1}&h={sub2}")
                   if o.id == "dating-ru" else o for o in graph.offers)
    return msgspec.structs.replace(graph, landers=landers, offers=offers)


def _query(response: httpx.Response) -> dict[str, list[str]]:
    return parse_qs(urlsplit(response.headers["location"]).query)


class Visitor:
    """One browser: its own cookie jar (or none), its address and user agent."""

    def __init__(self, base_url: str, ip: str, ua: str) -> None:
        self.http = httpx.AsyncClient(base_url=base_url, timeout=10)
        self.headers = {"x-forwarded-for": ip, "user-agent": ua}

    async def get(self, path: str) -> httpx.Response:
        response = await self.http.get(path, headers=self.headers)
        assert response.status_code == 302, (path, response.status_code, response.text)
        return response


async def _postback(http: httpx.AsyncClient, secret: str, click_id: str, txid: str,
                    payout: str | None) -> None:
    params = {"clickid": click_id, "secret": secret, "txid": txid, "currency": "EUR"}
    if payout is not None:
        params["payout"] = payout
    ip = ALPHA_IP if secret == ALPHA else "214.78.0.1"
    response = await http.get("/postback", params=params, headers={"x-forwarded-for": ip})
    assert response.status_code == 200, response.text


async def _traffic(base_url: str) -> dict[str, Any]:
    """The visitors of the ledger; what the edge decided where it chose (sticky split)."""
    seen: dict[str, Any] = {}
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as http:
        # A HEAD is answered, sets no cookie and is not counted.
        head = await http.head("/c/CAMP_A?zoneid=head", headers={"x-forwarded-for": RUSSIA,
                                                                "user-agent": IPHONE})
        assert head.status_code == 302 and head.headers.get_list("set-cookie") == []
        # V1 (RU): lander B, clicks through with the cookie, converts for 5.00.
        v1 = Visitor(base_url, RUSSIA, IPHONE)
        c1 = await v1.get("/c/CAMP_A?zoneid=z1&creative=cr1&bid=0.10")
        assert "tc=" in " ".join(c1.headers.get_list("set-cookie"))
        o1 = await v1.get("/click")
        assert (_query(o1)["z"], _query(o1)["h"]) == (["z1"], ["cr1"])
        # V2 (RU): lander B, leaves.
        v2 = Visitor(base_url, RUSSIA, IPHONE)
        await v2.get("/c/CAMP_A?zoneid=z2&bid=0.20")
        # V3 (RU): lander B, clicks through with the signed cid and no cookie; the
        # postback names no payout, so dating-ru's default (3.00) is earned.
        v3 = Visitor(base_url, RUSSIA, IPHONE)
        c3 = await v3.get("/c/CAMP_A?zoneid=z3&creative=cr3&bid=0.30")
        [signed] = _query(c3)["cid"]
        v3.http.cookies.clear()
        o3 = await v3.get(f"/click?cid={signed}")
        assert (_query(o3)["z"], _query(o3)["h"]) == (["z3"], ["cr3"])
        # V4 (SE): one of CAMP_A's two default landers, through to its offer: 3.00.
        v4 = Visitor(base_url, SWEDEN, WINDOWS)
        c4 = await v4.get("/c/CAMP_A")
        o4 = await v4.get("/click")
        seen["v4_lander"] = {"/us": "lp-usa", "/global": "lp-global"}[
            urlsplit(c4.headers["location"]).path]
        seen["v4_offer"] = {"/vpn": "vpn-us", "/vpn-ww": "vpn-global"}[
            urlsplit(o4.headers["location"]).path]
        # V5 (SE): the quiz funnel to the end, converts for 12.00 at beta-net.
        v5 = Visitor(base_url, SWEDEN, IPHONE)
        c5 = await v5.get("/c/INSTA_SUMMER_01_STORIES?adset=a5")
        await v5.get("/click")
        o5 = await v5.get("/click")
        assert urlsplit(o5.headers["location"]).hostname == "go.beta.example.org"
        # V6 (SE): the quiz funnel's first step only.
        v6 = Visitor(base_url, SWEDEN, IPHONE)
        await v6.get("/c/INSTA_SUMMER_01_STORIES")
        await v6.get("/click")
        for visitor in (v1, v2, v3, v4, v5, v6):
            await visitor.http.aclose()
        assert _query(c5)["cid"] == _query(o5)["tid"]  # lp-quiz passes the plain click id
        # The networks post the click id their offer URL got: the campaign click's.
        for secret, offer, txid, payout in ((ALPHA, _query(o1)["sub"], "t1", "5.00"),
                                            (ALPHA, _query(o3)["sub"], "t3", None),
                                            (ALPHA, _query(o4)["sub"], "t4", "3.00"),
                                            (BETA, _query(o5)["tid"], "t5", "12.00")):
            await _postback(http, secret, offer[0], txid, payout)
    return seen


def _ledger(seen: dict[str, Any]) -> dict[str, dict[str, dict[str, Any]]]:
    """By hand. Campaign clicks to a lander have no offer or network (the visitor has not
    chosen); LP clicks count under the lander they were made on and the offer they went to
    (none for a funnel step); conversions under the campaign click's lander and the offer
    and network of the LP click they follow. Costs are the campaign clicks'."""
    cpm = STORIES_CPM
    v4_lander, v4_offer = seen["v4_lander"], seen["v4_offer"]

    def row(clicks: int, lp_views: int, lp_clicks: int, conversions: int, revenue: str,
            cost: Decimal | str) -> dict[str, Any]:
        return {"clicks": clicks, "lp_views": lp_views, "lp_clicks": lp_clicks,
                "conversions": conversions, "revenue": Decimal(revenue),
                "cost": Decimal(cost)}

    return {
        "offer": {
            "": row(6, 6, 2, 0, "0", Decimal("0.60") + 2 * cpm),
            "dating-ru": row(0, 0, 2, 2, "8.00", "0"),
            v4_offer: row(0, 0, 1, 1, "3.00", "0"),
            "antivirus": row(0, 0, 1, 1, "12.00", "0"),
        },
        "network": {
            "": row(6, 6, 2, 0, "0", Decimal("0.60") + 2 * cpm),
            "alpha-net": row(0, 0, 3, 3, "11.00", "0"),
            "beta-net": row(0, 0, 1, 1, "12.00", "0"),
        },
        "lander": {
            "lp-b": row(3, 3, 2, 2, "8.00", "0.60"),
            v4_lander: row(1, 1, 1, 1, "3.00", "0"),
            "lp-quiz": row(2, 2, 2, 1, "12.00", 2 * cpm),
            "lp-quiz-result": row(0, 0, 1, 0, "0", "0"),
        },
    }


def _comparable(rows: list[dict[str, Any]], dimension: str) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for row in rows:
        out[row[dimension] or ""] = {
            name: int(row[name]) if name not in ("revenue", "cost")
            else Decimal(str(row[name] or 0)) for name in METRICS}
    return out


async def _cli(api: str, workspace: str, dimension: str) -> list[dict[str, Any]]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "turnout.cli.main", "report", "--workspace", workspace,
        "--group-by", dimension, "--metrics", ",".join(METRICS), "--from", "all",
        "--format", "json", "--api", api, "--key", TOKEN,
        cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={k: v for k, v in os.environ.items() if not k.startswith("TURNOUT_")},
    )
    out, err = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode == 0, err.decode()
    return orjson.loads(out)["rows"]


@pytest.mark.timeout(240)
async def test_reports_by_offer_network_and_lander_equal_the_ledger(
        stack: LocalStack, clickhouse_dsn: str, tmp_path: Path) -> None:
    workspace = f"lp_{uuid.uuid4().hex[:8]}"
    edge = EdgeProcess(stack, tmp_path / "edge")
    await publish(stack.redis_url, edge.prefix, _graph(workspace))
    await asyncio.to_thread(edge.start)
    database = await asyncio.to_thread(make_database, clickhouse_dsn)
    topics = {"clicks": TOPIC_CLICKS, "conversions": TOPIC_CONVERSIONS,
              "events": TOPIC_EVENTS, "dlq": TOPIC_DLQ}
    settings = settings_for(database, topics, batch_wait_s=0.3, attribution_grace_s=20.0)
    try:
        async with ingesting(stack.kafka_bootstrap, clickhouse_factory(clickhouse_dsn),
                             settings, ("clicks", "conversions")) as running:
            seen = await _traffic(edge.base_url)

            def alive() -> None:
                if running.task.done():
                    running.task.result()
                    raise AssertionError("ingest stopped early")

            await caught_up(ingest_counts(clickhouse_dsn, database, workspace),
                            {"clicks": 6, "lp_clicks": 6, "conversions": {"approved": 4}},
                            90, alive)
    finally:
        edge.stop()
    ledger = _ledger(seen)
    client = clickhouse_connect.get_client(dsn=clickhouse_dsn, database=database)
    # The sub-ids reached the LP clicks' rows (finding 3).
    lp_subs = client.query(
        "SELECT sub1, sub2 FROM clicks WHERE workspace_id = {w:String} AND kind = 'lp_click'"
        " AND lander_id = 'lp-b' ORDER BY sub1", parameters={"w": workspace}).result_rows
    assert lp_subs == [("z1", "cr1"), ("z3", "cr3")]
    # SQL: the builder's own statement (rollup and raw), and an analyst's plain query.
    for dimension, want in ledger.items():
        for force_raw in (False, True):
            spec = build_spec(workspace=workspace, group_by=dimension, metrics=METRICS,
                              start="all", currency="EUR", force_raw=force_raw)
            rows = execute(client, build_query(spec)).records()
            assert _comparable(rows, dimension) == want, (dimension, force_raw)
    by_offer = dict(client.query(
        "SELECT offer_id, sum(revenue_micros) FROM conversions_latest"
        " WHERE workspace_id = {w:String} AND counted AND status = 'approved'"
        " GROUP BY offer_id", parameters={"w": workspace}).result_rows)
    assert by_offer == {o: int(r["revenue"] * 1_000_000)
                        for o, r in ledger["offer"].items() if r["conversions"]}
    async with report_api(clickhouse_dsn, database, stack.redis_url, edge.prefix, workspace,
                          TOKEN) as api:
        async with httpx.AsyncClient(timeout=60) as http:
            for dimension, want in ledger.items():
                response = await http.get(f"{api}/api/v1/report", params={
                    "group_by": dimension, "metrics": ",".join(METRICS), "from": "all"},
                    headers={"Authorization": f"Bearer {TOKEN}"})
                assert response.status_code == 200, response.text
                assert _comparable(response.json()["rows"], dimension) == want, dimension
        for dimension, want in ledger.items():
            assert _comparable(await _cli(api, workspace, dimension), dimension) == want
    client.command(f"DROP DATABASE IF EXISTS {database}")
