"""The report builder against real chdb: known rows in, exact numbers out."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any, Final

import clickhouse_connect
import pytest

from turnout.config.fx_rates import parse_csv
from turnout.ingest.migrate import migrate
from turnout.ingest.schema import CLICKS as SCHEMA_CLICKS
from turnout.ingest.schema import CONVERSIONS
from turnout.reports import held
from turnout.reports.fx_store import import_rates
from turnout.reports.query import build_query
from turnout.reports.rollups import choose_rollup
from turnout.reports.run import execute, run_report
from turnout.reports.spec import build_spec

# is_unique (0005_unique_flag.sql) is set by the edge; rows here carry it themselves.
CLICKS = (*SCHEMA_CLICKS, *(() if "is_unique" in dict(SCHEMA_CLICKS) else
                             (("is_unique", "UInt8"),)))

DAY = "2024-03-10"
M = 1_000_000


def _zero(type_: str) -> Any:
    if type_.startswith(("UInt", "Int")):
        return 0
    if type_ == "Bool":
        return False
    if type_.startswith("Map"):
        return {}
    if type_.startswith("DateTime"):
        return dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    return ""


def at(hour: int, minute: int = 0, day: int = 10) -> dt.datetime:
    return dt.datetime(2024, 3, day, hour, minute, tzinfo=dt.UTC)


_CLICK_IDS = iter(range(1, 10**6))


def click(ts: dt.datetime, **kw: Any) -> dict[str, Any]:
    row = {name: _zero(t) for name, t in CLICKS}
    row.update(schema_version=1, kind="click", click_id=f"k{next(_CLICK_IDS):05d}",
               workspace_id="ws1", graph_version=1, rule_id="default", device="desktop",
               country="US", cost_model="cpc", ts=ts, is_unique=int(kw.get("kind") != "lp_click"))
    row.update(kw)
    return row


def conversion(of: dict[str, Any], txid: str, payout: int, status: str = "approved",
               version: int = 1, **kw: Any) -> dict[str, Any]:
    row = {name: _zero(t) for name, t in CONVERSIONS}
    dims = {name for name, _ in CONVERSIONS} & set(of)
    row.update({name: of[name] for name in dims if name not in ("ts", "schema_version")})
    row.update(schema_version=1, conversion_id=f"cv-{txid}-{version}", txid=txid,
               status=status, payout_micros=payout, ts=of["ts"] + dt.timedelta(hours=1),
               source="postback", version=version, attributed=True, attribution="click_id",
               in_window=True, click_ts=of["ts"], click_kind=of["kind"])
    row.update(kw)
    return row


def insert(client: Any, table: str, rows: list[dict[str, Any]]) -> None:
    columns = {"clicks": CLICKS, "conversions": CONVERSIONS}[table]
    client.insert(table, [[row[name] for name, _ in columns] for row in rows],
                  column_names=[n for n, _ in columns], column_type_names=[t for _, t in columns])


def seed(client: Any) -> None:
    cpc = {"campaign_id": "c1", "cost_micros": 100_000}
    # The edge decides uniqueness: v1's second click and v3's 00:10 (after 23:30) are not.
    us = [click(at(1), visitor_id="v1", **cpc),
          click(at(1, 30), visitor_id="v1", is_unique=0, **cpc),
          click(at(2), visitor_id="v2", **cpc),
          click(at(0, 10), visitor_id="v3", is_unique=0, **cpc)]
    earlier = click(at(23, 30, day=9), visitor_id="v3", **cpc)
    bot = click(at(3), visitor_id="b1", is_bot=True, bot_reason="ua", **cpc)
    mobile = [click(at(4), visitor_id=v, device="mobile", **cpc) for v in ("v4", "v5")]
    gb = [click(at(5), visitor_id=v, country="GB", lander_id="l1", **cpc)
          for v in ("v6", "v7", "v8")]
    lp = click(at(5, 1), kind="lp_click", visitor_id="v6", country="GB", lander_id="l1",
               offer_id="o1", parent_click_id=gb[0]["click_id"], campaign_id="c1")
    cpa = {"campaign_id": "c2", "parent_campaign_id": "p1", "cost_model": "cpa",
           "cost_rate_micros": 3 * M}
    c2 = [click(at(6), visitor_id=v, **cpa) for v in ("w1", "w2")]
    c3 = [click(at(7), visitor_id="w3", campaign_id="c3", parent_campaign_id="p1",
                country="GB", device="mobile", cost_model="revshare",
                cost_rate_micros=30 * M)]
    fixed = {"campaign_id": "c4", "cost_model": "fixed_total", "cost_rate_micros": 9 * M}
    c4 = [click(at(8), visitor_id=v, **fixed) for v in ("x1", "x2")]
    c4_before = click(at(8, day=9), visitor_id="x3", **fixed)
    c4_bot = click(at(8, 20), visitor_id="x4", is_bot=True, **fixed)  # bots share no total
    odd = [click(at(18, 40, day=9), visitor_id="q1", city="Pune", sub1="z9", country="IN",
                 campaign_id="c3", parent_campaign_id="p1", cost_model="revshare",
                 cost_rate_micros=30 * M, cost_micros=70_000),  # 00:10 on the 10th in IST
           click(at(18, 20, day=9), visitor_id="q2", country="IN", campaign_id="c1",
                 cost_micros=100_000, os="iOS", browser="Safari")]  # 23:50 on the 9th in IST
    other = [click(at(9), visitor_id=f"o{i}", workspace_id="ws2", campaign_id="z1",
                   cost_micros=M) for i in range(5)]
    insert(client, "clicks", [*us, earlier, bot, *mobile, *gb, lp, *c2, *c3, *c4, c4_before,
                              c4_bot, *odd, *other])
    insert(client, "conversions", [
        conversion(us[0], "t1", 12_500_000),
        conversion(us[2], "t2", 5 * M, status="pending"),
        conversion(gb[0], "t3", 20 * M),
        conversion(gb[0], "t3", 20 * M, status="chargeback", version=2),  # replaces t3
        conversion(gb[1], "t4", 7_250_000),
        conversion(gb[2], "t5", 99 * M, in_window=False),  # too late: never counted
        conversion(bot, "t6", 50 * M),  # a bot's conversion: excluded with the bot
        conversion(c2[0], "t7", 10 * M),
        conversion(c3[0], "t8", 10 * M),
        conversion(other[0], "t9", 100 * M),
        conversion(odd[0], "t10", 4 * M),
        conversion(odd[1], "t11", 2 * M, status="declined"),
    ])
    # An A/B rule: d1 converts 25/500, d2 40/500 (in SE so other rows stay as they are).
    client.command("""
        INSERT INTO clicks (schema_version, kind, click_id, ts, workspace_id, campaign_id,
                            graph_version, rule_id, destination_id, country, device,
                            visitor_id, cost_model)
        SELECT 1, 'click', concat('ab', toString(number)), toDateTime64('2024-03-10 10:00:00', 3,
               'UTC'), 'ws1', 'c5', 1, 'r1', if(number < 500, 'd1', 'd2'), 'SE', 'desktop',
               concat('ab', toString(number)), 'cpc'
        FROM numbers(1000)""")
    client.command("""
        INSERT INTO conversions (schema_version, conversion_id, click_id, txid, status,
                                 payout_micros, ts, version, attributed, in_window, click_ts,
                                 workspace_id, campaign_id, rule_id, destination_id, country,
                                 device)
        SELECT 1, concat('abc', toString(number)), concat('ab', toString(number)), 'x',
               'approved', 1000000, toDateTime64('2024-03-10 11:00:00', 3, 'UTC'), 1, 1, 1,
               toDateTime64('2024-03-10 10:00:00', 3, 'UTC'), 'ws1', 'c5', 'r1',
               if(number < 500, 'd1', 'd2'), 'SE', 'desktop'
        FROM numbers(1000) WHERE number < 25 OR (number >= 500 AND number < 540)""")
    client.insert("dim_campaigns", [["ws1", "c1", 1, "Old name"], ["ws1", "c1", 2, "New name"]],
                  column_names=["workspace_id", "id", "graph_version", "name"])


@pytest.fixture(scope="module")
def reports_db(clickhouse_dsn: str) -> Iterator[tuple[Any, str]]:
    database = f"reports_{uuid.uuid4().hex[:8]}"
    admin = clickhouse_connect.get_client(dsn=clickhouse_dsn)
    migrate(admin, database)
    client = clickhouse_connect.get_client(dsn=clickhouse_dsn, database=database)
    seed(client)
    yield client, database
    admin.command(f"DROP DATABASE IF EXISTS {database}")


def report(client: Any, **kw: Any) -> dict[tuple[Any, ...], dict[str, Any]]:
    kw.setdefault("start", DAY)
    kw.setdefault("end", DAY)
    kw.setdefault("currency", "USD")
    result = run_report(client, build_spec(workspace=kw.pop("workspace", "ws1"), **kw))
    keys = [c.name for c in result.columns if c.role == "dimension"]
    return {tuple(r[k] for k in keys): r for r in result.records()}


ALL = ("clicks,unique_clicks,bot_clicks,lp_views,lp_clicks,lp_ctr,conversions,approved,"
       "pending,chargebacks,revenue,cost,profit,roi,roas,epc,cr,cpa,cpc,aov")


def test_campaign_country_device_exact(reports_db):
    client, _ = reports_db
    rows = report(client, group_by="campaign,country,device", metrics=ALL)
    us = rows[("c1", "US", "desktop")]
    assert (us["clicks"], us["unique_clicks"], us["bot_clicks"]) == (4, 2, 1)
    assert (us["conversions"], us["approved"], us["pending"]) == (1, 1, 1)
    assert us["revenue"] == Decimal("12.5") and us["cost"] == Decimal("0.4")
    assert us["profit"] == Decimal("12.1") and us["roi"] == Decimal("3025.00")
    assert us["cr"] == Decimal("25.0000") and us["epc"] == Decimal("3.125")
    assert us["cpa"] == Decimal("0.4") and us["cpc"] == Decimal("0.1")
    assert us["aov"] == Decimal("12.5") and us["roas"] == Decimal("3125.00")
    mobile = rows[("c1", "US", "mobile")]
    assert (mobile["clicks"], mobile["conversions"], mobile["revenue"]) == (2, 0, 0)
    assert mobile["roi"] == Decimal("-100.00") and mobile["cpa"] is None
    assert mobile["aov"] is None and mobile["cr"] == 0
    gb = rows[("c1", "GB", "desktop")]
    assert (gb["clicks"], gb["lp_views"], gb["lp_clicks"]) == (3, 3, 1)
    assert gb["lp_ctr"] == Decimal("33.3333") and gb["chargebacks"] == 1
    assert gb["conversions"] == 1 and gb["revenue"] == Decimal("7.25")  # t3 charged back
    assert gb["roi"] == Decimal("2316.67")
    c2, c3, c4 = rows[("c2", "US", "desktop")], rows[("c3", "GB", "mobile")], rows[
        ("c4", "US", "desktop")]
    assert (c2["revenue"], c2["cost"]) == (Decimal(10), Decimal(3))  # CPA 3.00
    assert (c3["revenue"], c3["cost"]) == (Decimal(10), Decimal(3))  # RevShare 30 %
    assert (c4["clicks"], c4["cost"]) == (2, Decimal(6))  # 9.00 over 3 clicks, 2 in range
    assert c4["epc"] == 0 and c4["cr"] == 0
    assert all(key[0] != "z1" for key in rows)  # ws2 never shows up


def test_bots_and_statuses(reports_db):
    client, _ = reports_db
    plain = report(client, group_by="campaign", metrics="clicks,conversions,revenue")
    bots = report(client, group_by="campaign", metrics="clicks,conversions,revenue",
                  include_bots=True)
    assert plain[("c1",)]["clicks"] == 9 and bots[("c1",)]["clicks"] == 10
    assert bots[("c1",)]["revenue"] == plain[("c1",)]["revenue"] + 50
    both = report(client, group_by="campaign", metrics="conversions",
                  statuses="approved,pending")
    assert both[("c1",)]["conversions"] == plain[("c1",)]["conversions"] + 1


def test_rollup_parent_and_filters(reports_db):
    client, _ = reports_db
    rows = report(client, group_by="campaign", metrics="clicks,revenue,cost",
                  rollup=True, filters={"campaign": ["p1"]})
    assert list(rows) == [("p1",)]
    assert rows[("p1",)]["clicks"] == 3
    assert (rows[("p1",)]["revenue"], rows[("p1",)]["cost"]) == (Decimal(20), Decimal(6))
    gb = report(client, group_by="device", metrics="clicks",
                filters={"country": ["GB"], "campaign": ["c1", "c3"]})
    assert {k: v["clicks"] for k, v in gb.items()} == {("desktop",): 3, ("mobile",): 1}


def test_time_zone_and_names(reports_db):
    client, _ = reports_db
    utc = report(client, group_by="date", metrics="clicks", start="2024-03-09", tz="UTC")
    assert utc[(dt.date(2024, 3, 9),)]["clicks"] == 4  # v3 23:30, c4 08:00, q1, q2
    berlin = report(client, group_by="date", metrics="clicks", start="2024-03-09",
                    end="2024-03-10", tz="Europe/Berlin")
    assert berlin[(dt.date(2024, 3, 10),)]["clicks"] == 1015  # 23:30 UTC on the 9th too
    hours = report(client, group_by="hour", metrics="clicks", tz="Asia/Kolkata")
    # 05:00 IST is 23:30-00:30 UTC: v3's two clicks; 06:00 IST holds v1's 01:00 UTC.
    assert hours[("2024-03-10T05:00:00+0530",)]["clicks"] == 2
    assert hours[("2024-03-10T06:00:00+0530",)]["clicks"] == 1
    named = report(client, group_by="campaign,graph_version", metrics="clicks",
                   filters={"campaign": ["c1"]})
    row = named[("c1", 1)]
    assert (row["campaign_name"], row["campaign_name_then"]) == ("New name", "Old name")


def test_sort_limit_offset_and_totals(reports_db):
    client, _ = reports_db
    result = run_report(client, build_spec(workspace="ws1", currency="USD", group_by="campaign",
                                           metrics="clicks,roi", sort="-clicks", limit=2,
                                           offset=1, start=DAY, end=DAY))
    assert [r["campaign"] for r in result.records()] == ["c1", "c2"]  # c5 first, skipped
    total = report(client, metrics="clicks,revenue")
    assert total[()]["clicks"] == 1000 + 9 + 2 + 1 + 2
    assert total[()]["revenue"] == Decimal("65") + Decimal("12.5") + Decimal("7.25") + 20


def test_hostile_values_are_only_data(reports_db):
    client, _ = reports_db
    rows = report(client, group_by="country", metrics="clicks",
                  filters={"country": ["US' OR 1=1 --", "GB"]})
    assert list(rows) == [("GB",)]
    none = report(client, workspace="ws1' OR '1'='1", metrics="clicks")
    assert none[()]["clicks"] == 0


def test_unique_clicks_are_the_edge_flag(reports_db):
    client, _ = reports_db
    rows = report(client, group_by="campaign", metrics="clicks,unique_clicks,lp_clicks",
                  include_bots=True)
    # c1: 10 clicks with the bot; v1's second and v3's 00:10 are not unique; LP clicks never.
    assert (rows[("c1",)]["clicks"], rows[("c1",)]["unique_clicks"]) == (10, 8)
    assert rows[("c5",)]["unique_clicks"] == 0  # inserted without the flag: the default 0


_SAME_WAYS: Final = [
    # (group_by, filters, tz): the rollup serves each of these; run raw too, compare.
    ("", {}, "UTC"),
    ("campaign", {}, "UTC"),
    ("campaign,country,date", {}, "Europe/Berlin"),
    ("campaign,date", {}, "Asia/Kolkata"),  # +5:30: days cut UTC hours in half
    ("country,hour", {}, "Asia/Kathmandu"),  # +5:45
    ("hour", {"campaign": ["c1", "c4"]}, "Asia/Kolkata"),
    ("offer,lander,device", {}, "UTC"),
    ("rule,destination", {"campaign": ["c1", "c5"]}, "UTC"),
    ("source,network,os,browser,graph_version", {"country": ["US", "IN"]}, "UTC"),
    ("funnel,funnel_step,workspace", {"date": ["2024-03-10"]}, "Europe/Berlin"),
]


@pytest.mark.parametrize(("group_by", "filters", "tz"), _SAME_WAYS)
@pytest.mark.parametrize("include_bots", [False, True])
@pytest.mark.parametrize("parents", [False, True])
def test_rollup_and_raw_give_identical_numbers(reports_db, group_by, filters, tz,
                                               include_bots, parents):
    client, _ = reports_db
    spec = build_spec(workspace="ws1", currency="USD", group_by=group_by, filters=filters, tz=tz,
                      metrics=ALL + ",declined", start="2024-03-09", end="2024-03-10",
                      include_bots=include_bots, rollup=parents, limit=100_000)
    assert choose_rollup(spec) is not None
    served = run_report(client, spec).records()
    raw = run_report(client, dataclasses.replace(spec, force_raw=True)).records()
    assert served == raw
    assert sum(r["clicks"] for r in raw) > 0 and any(r["cost"] for r in raw)


def test_reports_a_rollup_cannot_serve_read_raw(reports_db):
    client, _ = reports_db
    for kwargs in ({"group_by": "sub1"}, {"group_by": "city"},
                   {"group_by": "campaign", "start": "2024-03-09T18:37", "tz": "UTC"}):
        spec = build_spec(workspace="ws1", currency="USD", metrics=ALL, end="2024-03-10", **{
            "start": "2024-03-09", **kwargs})
        assert choose_rollup(spec) is None
        assert "FROM clicks\n" in build_query(spec).sql
        assert run_report(client, spec).rows
    rows = report(client, group_by="city,sub1", metrics="clicks,unique_clicks,cost,revenue",
                  start="2024-03-09")
    assert rows[("Pune", "z9")]["revenue"] == 4 and rows[("Pune", "z9")]["cost"] == Decimal(
        "1.27")  # 0.07 at the click + 30 % of 4.00


def test_fixed_total_is_shared_the_same_from_the_rollup(reports_db):
    client, _ = reports_db
    spec = build_spec(workspace="ws1", currency="USD", group_by="campaign", metrics="clicks,cost",
                      filters={"campaign": ["c4"]}, start="2024-03-10", end="2024-03-10",
                      include_bots=True)
    assert choose_rollup(spec) is not None
    served = report(client, group_by="campaign", metrics="clicks,cost",
                    filters={"campaign": ["c4"]}, include_bots=True)
    raw = run_report(client, dataclasses.replace(spec, force_raw=True)).records()
    # 9.00 over the 3 human clicks ever, 2 of them on the 10th; the bot pays nothing.
    assert served[("c4",)]["cost"] == Decimal(6) == raw[0]["cost"]
    assert served[("c4",)]["clicks"] == 3 == raw[0]["clicks"]


# Currencies (SPEC §11): a EUR workspace whose offers pay in USD, GBP and EUR. Rates are
# quoted per 1 EUR; every expected amount below is worked out by hand, half-even to the
# micro-unit per conversion (x.5 micros goes to the even neighbour), then summed.
FX_DAY1 = "date,currency,rate\n2024-03-10,USD,1.0825\n2024-03-10,GBP,0.8567\n"
FX_DAY2 = "date,currency,rate\n2024-03-11,USD,1.09\n2024-03-11,GBP,0.8\n"


def _fx_seed(client: Any) -> None:
    terms = {"workspace_id": "eur1", "campaign_id": "f1", "cost_model": "revshare",
             "cost_rate_micros": 30 * M, "cost_micros": 0}
    day1 = [click(at(9, day=10), visitor_id=f"e{i}", **terms) for i in range(4)]
    day2 = [click(at(9, day=11), visitor_id=f"g{i}", **terms) for i in range(4)]
    usd = {"workspace_id": "usd1", "campaign_id": "u1", "cost_micros": 0}
    cross = [click(at(9, day=10), visitor_id=f"u{i}", **usd) for i in range(2)]
    insert(client, "clicks", [*day1, *day2, *cross])
    insert(client, "conversions", [
        conversion(day1[0], "f1", 12_500_000, currency="USD"),  # 12.50 / 1.0825
        conversion(day1[1], "f2", 20 * M, currency="GBP"),  # 20.00 / 0.8567
        conversion(day1[2], "f3", 7_250_000, currency="EUR"),  # no rate needed
        conversion(day1[3], "f4", 1000 * M, currency="JPY"),  # no JPY rate: held
        conversion(day2[0], "f5", 12_500_000, currency="USD"),  # 12.50 / 1.09
        conversion(day2[1], "f6", 4_100_000, currency="GBP"),  # 4.10 / 0.8 = 5.125 exactly
        conversion(day2[2], "f7", 2, currency="GBP"),  # 2 / 0.8 = 2.5 micros -> 2
        conversion(day2[3], "f8", 6, currency="GBP"),  # 6 / 0.8 = 7.5 micros -> 8
        conversion(cross[0], "u1", 10 * M, currency="GBP"),  # 10 x 1.0825 / 0.8567 USD
        conversion(cross[1], "u2", 10 * M, currency="EUR"),  # 10 x 1.0825 USD
    ])
    for text in (FX_DAY1, FX_DAY2):
        import_rates(client, parse_csv(text, "EUR"), "test")


def test_payouts_are_converted_at_the_rate_of_their_day(fx_db):
    client = fx_db
    rows = report(client, workspace="eur1", currency="EUR", group_by="date",
                  start="2024-03-10", end="2024-03-11",
                  metrics="conversions,held_conversions,revenue,cost,profit,aov,epc")
    day1, day2 = rows[(dt.date(2024, 3, 10),)], rows[(dt.date(2024, 3, 11),)]
    # 11.547344 (11.5473441108...) + 23.345395 (23.3453951208...) + 7.25; JPY held
    assert day1["revenue"] == Decimal("42.142739")
    assert (day1["conversions"], day1["held_conversions"]) == (4, 1)
    # RevShare 30 % of each converted amount, rounded down: 3.464203 + 7.003618 + 2.175
    assert day1["cost"] == Decimal("12.642821")
    assert day1["profit"] == Decimal("29.499918")
    # 11.467890 (11.4678899082...) + 5.125 + 0.000002 + 0.000008
    assert day2["revenue"] == Decimal("16.5929")
    assert day2["cost"] == Decimal("4.977869")  # 3.440367 + 1.5375 + 0 + 0.000002
    assert day2["held_conversions"] == 0
    assert day2["aov"] == Decimal("4.148225") and day2["epc"] == Decimal("4.148225")
    usd = report(client, workspace="usd1", currency="USD", start="2024-03-10",
                 end="2024-03-11", metrics="revenue")
    assert usd[()]["revenue"] == Decimal("23.460695")  # 12.635695 (cross rate) + 10.825


def test_a_held_conversion_converts_once_its_rate_is_imported(fx_db):
    client = fx_db
    held_spec = build_spec(workspace="eur1", currency="EUR", start="2024-03-10",
                           end="2024-03-11")
    listed = execute(client, held.build_query(held_spec)).records()
    assert listed == [{"date": dt.date(2024, 3, 10), "currency": "JPY", "status": "approved",
                       "conversions": 1, "payout": Decimal(1000)}]
    import_rates(client, parse_csv(FX_DAY1 + "2024-03-10,JPY,160.25\n", "EUR"), "test")
    try:
        assert execute(client, held.build_query(held_spec)).rows == []
        rows = report(client, workspace="eur1", currency="EUR", start="2024-03-10",
                      end="2024-03-10", metrics="held_conversions,revenue")
        # + 1000 / 160.25 = 6.2402496099... -> 6.240250
        assert rows[()]["revenue"] == Decimal("48.382989")
        assert rows[()]["held_conversions"] == 0
    finally:  # the module's other tests see the JPY conversion held
        import_rates(client, parse_csv(FX_DAY1, "EUR"), "test")
    assert execute(client, held.build_query(held_spec)).rows != []


@pytest.fixture(scope="module")
def fx_db(reports_db: tuple[Any, str]) -> Any:
    client, _ = reports_db
    _fx_seed(client)
    return client
