from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from turnout.reports.query import build_query
from turnout.reports.rollups import ROLLUPS, choose_rollup, zone_fits
from turnout.reports.spec import build_spec

TODAY = dt.date(2024, 3, 10)


def spec(**kw):
    kw.setdefault("workspace", "acme")
    kw.setdefault("currency", "EUR")
    kw.setdefault("today", TODAY)
    return build_spec(**kw)


def table(**kw) -> str | None:
    rollup = choose_rollup(spec(**kw))
    return None if rollup is None else rollup.table


def test_smallest_covering_rollup_serves():
    assert table(group_by="campaign,country,date", tz="Europe/Berlin") == "clicks_geo"
    assert table(group_by="campaign", rollup=True, filters={"country": ["US"]}) == "clicks_geo"
    assert table(group_by="offer,device,hour") == "clicks_wide"
    assert table(group_by="rule,destination", filters={"campaign": ["c1"]}) == "clicks_wide"


@pytest.mark.parametrize("kw", [
    {"group_by": "sub1"}, {"group_by": "city"}, {"group_by": "country,region"},
    {"group_by": "campaign", "filters": {"language": ["en"]}},
    {"group_by": "campaign", "start": "2024-03-01T10:07"},  # not on a bucket edge
    {"group_by": "campaign", "end": "2024-03-02T10:10:30"},
])
def test_uncovered_reports_read_raw_clicks(kw):
    assert table(**kw) is None
    assert "FROM clicks\n" in build_query(spec(**kw)).sql


def test_zones_off_the_hour_use_quarter_hour_buckets():
    # An India day starts at 18:30 UTC: not whole UTC hours, so not clicks_geo.
    assert table(group_by="campaign,date", tz="Asia/Kolkata") == "clicks_wide"
    assert table(group_by="campaign", tz="Asia/Kathmandu", start="2024-03-01",
                 end="2024-03-02") == "clicks_wide"
    assert zone_fits("Asia/Kolkata", 900) and not zone_fits("Asia/Kolkata", 3600)
    assert zone_fits("Europe/Berlin", 3600) and zone_fits("America/St_Johns", 900)
    assert not zone_fits("America/St_Johns", 3600)


def test_force_raw_and_rollup_sql():
    served = spec(group_by="campaign,country", metrics="clicks,unique_clicks,cost")
    sql = build_query(served).sql
    assert "FROM clicks_geo" in sql and "sumIf(unique_clicks, NOT is_bot)" in sql
    assert "fixed_cost_terms" in sql and "argMaxMerge(total_micros)" in sql
    raw = build_query(dataclasses.replace(served, force_raw=True)).sql
    assert "clicks_geo" not in raw and "fixed_cost_terms" not in raw
    assert choose_rollup(dataclasses.replace(served, force_raw=True)) is None


def test_rollups_listed_smallest_first():
    assert [r.table for r in ROLLUPS] == ["clicks_geo", "clicks_wide"]
    assert ROLLUPS[0].dimensions < ROLLUPS[1].dimensions
