"""The report API and `turnout report` on real chdb: auth, isolation, same numbers."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import io
import uuid
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from typing import Any

import clickhouse_connect
import httpx
import pytest

from tests.integration.test_reports import DAY, _fx_seed, seed
from turnout.api.app import create_app
from turnout.api.keys import key_line, parse_keys
from turnout.api.server import serve
from turnout.api.settings import ApiSettings
from turnout.cli.main import build_parser
from turnout.errors import EXIT_BAD_INPUT
from turnout.ingest.migrate import migrate
from turnout.local.services import free_port
from turnout.reports.workspaces import GraphFacts, StaticFacts, WorkspaceFacts

TOKEN_1, TOKEN_2, TOKEN_EUR = "tok_workspace_one", "tok_workspace_two", "tok_workspace_eur"
FACTS = GraphFacts(1, {"ws1": WorkspaceFacts("UTC", "USD"), "ws2": WorkspaceFacts("UTC", "EUR"),
                       "eur1": WorkspaceFacts("UTC", "EUR")},
                   {("c5", "r1"): ("d2", "d1")})


@pytest.fixture(scope="module")
def api_db(clickhouse_dsn: str) -> Iterator[str]:
    database = f"reports_api_{uuid.uuid4().hex[:8]}"
    admin = clickhouse_connect.get_client(dsn=clickhouse_dsn)
    migrate(admin, database)
    client = clickhouse_connect.get_client(dsn=clickhouse_dsn, database=database)
    seed(client)
    _fx_seed(client)
    yield database
    admin.command(f"DROP DATABASE IF EXISTS {database}")


@pytest.fixture(scope="module")
def settings(clickhouse_dsn: str, api_db: str) -> ApiSettings:
    keys = parse_keys(f"{key_line('ws1', TOKEN_1)}\n{key_line('ws2', TOKEN_2)}\n"
                      f"{key_line('eur1', TOKEN_EUR)}")
    return ApiSettings(clickhouse_dsn=clickhouse_dsn, database=api_db, api_keys=keys,
                       pool_size=2)


def _factory(settings: ApiSettings) -> Any:
    return lambda: clickhouse_connect.get_client(dsn=settings.clickhouse_dsn,
                                                 database=settings.database)


@pytest.fixture
async def http(settings: ApiSettings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, _factory(settings), StaticFacts(FACTS))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
        yield client


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


RANGE = {"from": DAY, "to": DAY}


async def test_auth_and_isolation(http):
    assert (await http.get("/api/v1/report", params=RANGE)).status_code == 401
    bad = await http.get("/api/v1/report", params=RANGE, headers=auth("tok_nope"))
    assert bad.status_code == 401 and bad.headers["www-authenticate"] == "Bearer"
    foreign = await http.get("/api/v1/report", params={**RANGE, "workspace": "ws2"},
                             headers=auth(TOKEN_1))
    assert foreign.status_code == 403
    one = (await http.get("/api/v1/report", params={**RANGE, "group_by": "campaign"},
                          headers=auth(TOKEN_1))).json()
    two = (await http.get("/api/v1/report", params={**RANGE, "group_by": "campaign"},
                          headers=auth(TOKEN_2))).json()
    assert {r["campaign"] for r in one["rows"]} == {"c1", "c2", "c3", "c4", "c5"}
    assert [r["campaign"] for r in two["rows"]] == ["z1"] and two["currency"] == "EUR"
    assert two["rows"][0]["clicks"] == 5 and two["rows"][0]["revenue"] == "100.00"


async def test_report_numbers_json_and_csv(http):
    params = {**RANGE, "group_by": "campaign,country,device", "f.campaign": "c1",
              "metrics": "clicks,unique_clicks,revenue,cost,roi,cr,cpa", "totals": "true"}
    body = (await http.get("/api/v1/report", params=params, headers=auth(TOKEN_1))).json()
    rows = {(r["campaign"], r["country"], r["device"]): r for r in body["rows"]}
    assert rows[("c1", "US", "desktop")] == {
        "campaign": "c1", "campaign_name": "New name", "country": "US", "device": "desktop",
        "clicks": 4, "unique_clicks": 2, "revenue": "12.50", "cost": "0.40",
        "roi": "3025.00", "cr": "25.0000", "cpa": "0.40"}
    assert rows[("c1", "US", "mobile")]["cpa"] is None
    assert body["totals"]["clicks"] == 9 and body["totals"]["revenue"] == "19.75"
    csv = await http.get("/api/v1/report", params={**params, "format": "csv"},
                         headers=auth(TOKEN_1))
    assert csv.headers["content-type"].startswith("text/csv")
    lines = csv.text.splitlines()
    assert lines[0] == ("campaign,campaign_name,country,device,clicks,unique_clicks,revenue,"
                        "cost,roi,cr,cpa")
    assert "c1,New name,US,mobile,2,2,0.00,0.20,-100.00,0.0000," in lines


async def test_bad_parameters_are_400(http):
    for params in ({"group_by": "campaign; DROP TABLE clicks"}, {"sort": "clicks) --"},
                   {"f.nope": "x"}, {"metrics": "clicks,evil()"}, {"limit": "-1"},
                   {"from": "yesterday"}, {"tz": "Mars/Base"}, {"statuses": "paid"},
                   {"whatever": "1"}, {"format": "xml"}, {"f.graph_version": "abc"}):
        response = await http.get("/api/v1/report", params=params, headers=auth(TOKEN_1))
        assert response.status_code == 400, params
        assert response.json()["error"]


async def test_timeline_leaderboard_ab(http):
    timeline = (await http.get("/api/v1/timeline", params={
        "from": "2024-03-09", "to": "2024-03-11", "bucket": "date", "metrics": "clicks"},
        headers=auth(TOKEN_1))).json()
    assert [(r["date"], r["clicks"]) for r in timeline["rows"]] == [
        ("2024-03-09", 4), ("2024-03-10", 1014), ("2024-03-11", 0)]  # q1, q2 on the 9th
    board = (await http.get("/api/v1/leaderboard", params={
        **RANGE, "dimension": "country", "metric": "revenue", "limit": "2"},
        headers=auth(TOKEN_1))).json()
    assert [(r["country"], r["revenue"]) for r in board["rows"]] == [
        ("SE", "65.00"), ("US", "22.50")]
    ab = (await http.get("/api/v1/ab", params={**RANGE, "campaign": "c5", "rule": "r1"},
                         headers=auth(TOKEN_1))).json()
    assert ab["control"] == "d2"  # first destination of the rule in the graph
    variant = ab["arms"][1]
    assert (variant["destination"], variant["clicks"], variant["conversions"]) == (
        "d1", 500, 25)
    assert variant["status"] == "ok" and variant["lift"] == -37.5
    assert 0.05 < variant["p_value"] < 0.07 and variant["significant"] is False
    few = (await http.get("/api/v1/ab", params={**RANGE, "campaign": "c1", "rule": "default"},
                          headers=auth(TOKEN_1))).json()
    assert {a["status"] for a in few["arms"]} == {"insufficient_data"}


async def test_openapi_and_health(http):
    assert (await http.get("/healthz")).json() == {"status": "ok"}
    doc = (await http.get("/openapi.json")).json()
    assert doc["openapi"] == "3.1.0"
    assert set(doc["paths"]) >= {"/api/v1/report", "/api/v1/timeline", "/api/v1/leaderboard",
                                 "/api/v1/ab", "/healthz"}


def _cli(argv: list[str]) -> tuple[int, str]:
    parser = build_parser()
    if "report" not in parser._subparsers._group_actions[0].choices:  # until wired in
        from turnout.cli.report import register

        register(parser._subparsers._group_actions[0])
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        args = parser.parse_args(argv)
        code = args.func(args)
    return code, out.getvalue()


async def test_cli_direct_and_through_a_real_api(settings, clickhouse_dsn, api_db):
    port = free_port()
    server = asyncio.create_task(serve(settings, _factory(settings), "127.0.0.1", port,
                                       StaticFacts(FACTS)))
    try:
        async with httpx.AsyncClient() as client:
            for _ in range(100):
                with contextlib.suppress(httpx.TransportError):
                    if (await client.get(f"http://127.0.0.1:{port}/healthz")).status_code == 200:
                        break
                await asyncio.sleep(0.05)
        common = ["report", "--workspace", "ws1", "--group-by", "campaign,country,device",
                  "--from", DAY, "--to", DAY, "--filter", "campaign=c1",
                  "--metrics", "clicks,revenue,roi", "--format", "csv"]
        code, direct = await asyncio.to_thread(_cli, [*common, "--direct", "--tz", "UTC",
                                                      "--currency", "USD",
                                                      "--dsn", clickhouse_dsn,
                                                      "--database", api_db])
        assert code == 0
        code, remote = await asyncio.to_thread(_cli, [*common, "--api",
                                                      f"http://127.0.0.1:{port}",
                                                      "--key", TOKEN_1])
        assert code == 0 and remote == direct
        assert "c1,New name,US,desktop,4,12.50,3025.00" in direct.splitlines()
        code, table = await asyncio.to_thread(_cli, [*common[:-1], "table", "--api",
                                                     f"http://127.0.0.1:{port}", "--key",
                                                     TOKEN_1])
        assert table.splitlines()[0].split() == ["campaign", "campaign_name", "country",
                                                 "device", "clicks", "revenue", "roi"]
        code, out = await asyncio.to_thread(_cli, [*common, "--api",
                                                   f"http://127.0.0.1:{port}", "--key", TOKEN_2])
        # ws2's key asking for ws1: refused (bad input, not an outage), nothing printed
        assert code == EXIT_BAD_INPUT and out == ""
    finally:
        server.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await server


FX_RANGE = {"from": "2024-03-10", "to": "2024-03-11"}


async def test_converted_money_and_held_are_the_same_from_api_cli_and_sql(
        settings, clickhouse_dsn, api_db):
    """The EUR workspace of test_reports._fx_seed: USD, GBP and EUR payouts, a held JPY one."""
    port = free_port()
    server = asyncio.create_task(serve(settings, _factory(settings), "127.0.0.1", port,
                                       StaticFacts(FACTS)))
    api = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=api, headers=auth(TOKEN_EUR)) as client:
            for _ in range(100):
                with contextlib.suppress(httpx.TransportError):
                    if (await client.get("/healthz")).status_code == 200:
                        break
                await asyncio.sleep(0.05)
            params = {**FX_RANGE, "group_by": "date", "metrics": "revenue,cost,held_conversions"}
            body = (await client.get("/api/v1/report", params=params)).json()
            assert (body["currency"], body["held_conversions"]) == ("EUR", 1)
            assert [(r["date"], r["revenue"], r["cost"], r["held_conversions"])
                    for r in body["rows"]] == [("2024-03-10", "42.142739", "12.642821", 1),
                                               ("2024-03-11", "16.5929", "4.977869", 0)]
            csv = await client.get("/api/v1/report", params={**params, "format": "csv"})
            assert csv.headers["x-turnout-currency"] == "EUR"
            assert csv.headers["x-turnout-held-conversions"] == "1"
            clicks_only = (await client.get("/api/v1/report", params={
                **FX_RANGE, "metrics": "clicks"})).json()
            assert clicks_only["held_conversions"] is None
            listed = (await client.get("/api/v1/held", params=FX_RANGE)).json()
            assert listed["rows"] == [{"date": "2024-03-10", "currency": "JPY",
                                       "status": "approved", "conversions": 1,
                                       "payout": "1000.00"}]
        common = ["report", "--workspace", "eur1", "--group-by", "date", "--from",
                  "2024-03-10", "--to", "2024-03-11", "--metrics", "revenue,cost,held_conversions",
                  "--format", "csv"]
        direct_flags = ["--direct", "--tz", "UTC", "--currency", "EUR", "--dsn", clickhouse_dsn,
                        "--database", api_db]
        code, direct = await asyncio.to_thread(_cli, [*common, *direct_flags])
        assert code == 0
        code, remote = await asyncio.to_thread(_cli, [*common, "--api", api, "--key", TOKEN_EUR])
        assert code == 0 and remote == direct == csv.text
        for door in (direct_flags, ["--api", api, "--key", TOKEN_EUR]):
            code, out = await asyncio.to_thread(_cli, [*common[:-2], "--held", "--format",
                                                       "csv", *door])
            assert (code, out) == (0, "date,currency,status,conversions,payout\n"
                                      "2024-03-10,JPY,approved,1,1000.00\n")
    finally:
        server.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await server
    # The SQL door: the held query as docs/analytics.md prints it.
    from turnout.reports.docs import DOC

    section = DOC.read_text().split("## Currencies", 1)[1].split("\n## ", 1)[0]
    sql = section.split("```sql\n", 1)[1].split("```", 1)[0]
    ch = clickhouse_connect.get_client(dsn=clickhouse_dsn, database=api_db)
    rows = ch.query(sql, parameters={"workspace": "eur1", "currency": "EUR",
                                     "start": "2024-03-10 00:00:00.000",
                                     "end": "2024-03-12 00:00:00.000",
                                     "statuses": ["approved"]}).result_rows
    assert [tuple(r) for r in rows] == [(dt.date(2024, 3, 10), "JPY", "approved", 1,
                                         Decimal(1000))]


async def test_what_the_document_refuses_the_api_refuses(http):
    # schemathesis findings (issue #15): the document let `from=`/`to=` be empty and /ab's
    # campaign and rule be empty, the API answers 400 (the document now says so); a filter
    # value beyond its dimension's type is a 400 too, never a 500.
    document = (await http.get("/openapi.json")).json()
    for endpoint in ("report", "timeline", "leaderboard", "held", "not-counted", "postbacks"):
        names = {p["name"]: p["schema"] for p in
                 document["paths"][f"/api/v1/{endpoint}"]["get"]["parameters"]}
        assert "pattern" in names["from"] and "pattern" in names["to"]
        for empty in ({"from": ""}, {"to": ""}):
            answer = await http.get(f"/api/v1/{endpoint}", params=empty, headers=auth(TOKEN_1))
            assert answer.status_code == 400, (endpoint, empty, answer.text)
    ab = await http.get("/api/v1/ab", params={"campaign": "", "rule": ""},
                        headers=auth(TOKEN_1))
    assert ab.status_code == 400
    for value in ("300", "-1", "x", ","):
        answer = await http.get("/api/v1/report", params={**RANGE, "f.funnel_step": value},
                                headers=auth(TOKEN_1))
        assert answer.status_code in (200, 400), (value, answer.text)
    # The document says boolean for totals and include_bots: `totals=` (empty, read as
    # false before) and `include_bots=yes` are 400s naming the parameter.
    for name, raw in (("totals", ""), ("include_bots", "yes")):
        answer = await http.get("/api/v1/report", params={**RANGE, name: raw},
                                headers=auth(TOKEN_1))
        assert answer.status_code == 400 and name in answer.text, (name, answer.text)
