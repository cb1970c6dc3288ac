from __future__ import annotations

import datetime as dt
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from turnout.reports.dimensions import DIMENSIONS
from turnout.reports.errors import ParameterError
from turnout.reports.metrics import METRICS
from turnout.reports.query import build_query
from turnout.reports.spec import build_spec

TODAY = dt.date(2024, 3, 10)


def spec(**kw):
    kw.setdefault("workspace", "acme")
    kw.setdefault("currency", "EUR")
    kw.setdefault("today", TODAY)
    return build_spec(**kw)


@pytest.mark.parametrize("bad", [
    {"group_by": "campaign; DROP TABLE clicks"}, {"group_by": "country)"},
    {"metrics": "clicks,sleep(3)"}, {"sort": "clicks DESC, (SELECT 1)"},
    {"filters": {"country' OR 1=1": ["US"]}}, {"sort": "roi:sideways"},
])
def test_names_outside_the_whitelists_are_rejected(bad):
    with pytest.raises(ParameterError):
        spec(**bad)


def test_every_problem_is_reported_at_once():
    with pytest.raises(ParameterError) as caught:
        spec(group_by="nope", metrics="bogus", limit="x", tz="Nowhere/Land")
    text = str(caught.value)
    assert all(word in text for word in ("nope", "bogus", "limit", "Nowhere/Land"))


@settings(deadline=None)  # a shared 2-core machine: timing is not what this tests
@given(st.text(min_size=1, max_size=40).filter(lambda v: v.strip() and "," not in v))
def test_values_never_reach_sql_text(value):
    hostile = build_query(spec(filters={"sub1": [value]}, workspace=value))
    benign = build_query(spec(filters={"sub1": ["x"]}, workspace="w"))
    assert hostile.sql == benign.sql  # values change parameters only, never the SQL text
    assert hostile.parameters["workspace"] == value
    assert hostile.parameters["f_sub1"] == [value.strip()]


def test_sql_only_contains_known_identifiers():
    query = build_query(spec(group_by=list(DIMENSIONS)[:12], metrics=list(METRICS)))
    placeholders = set(re.findall(r"\{(\w+):", query.sql))
    assert placeholders <= {"workspace", "tz", "start", "end", "statuses", "limit", "offset",
                            "currency"}


def test_time_range_is_workspace_local_converted_to_utc():
    query = build_query(spec(start="2024-03-01", end="2024-03-31", tz="Europe/Berlin",
                             group_by="date"))
    assert query.parameters["start"] == "2024-02-29 23:00:00.000"
    assert query.parameters["end"] == "2024-03-31 22:00:00.000"  # CEST by then
    assert query.parameters["tz"] == "Europe/Berlin"
    assert "toDate(bucket, {tz:String})" in query.sql  # from clicks_geo
    assert "toDate(click_ts, {tz:String})" in query.sql
    raw = build_query(spec(start="2024-03-01", end="2024-03-31", tz="Europe/Berlin",
                           group_by="date", force_raw=True))
    assert "toDate(ts, {tz:String})" in raw.sql


def test_sources_follow_the_metrics():
    clicks_only = build_query(spec(metrics="clicks")).sql
    assert "conversions_latest" not in clicks_only and "fixed_total" not in clicks_only
    assert "is_unique" not in clicks_only and "NOT is_bot" in clicks_only
    revenue = build_query(spec(metrics="revenue")).sql
    assert "FROM clicks" not in revenue and "conversions_latest" in revenue
    cost = build_query(spec(metrics="cost", force_raw=True)).sql
    assert "fixed_total" in cost and "cost_model = 'cpa'" in cost
    assert "fixed_cost_terms" in build_query(spec(metrics="cost")).sql
    raw_unique = build_query(spec(metrics="unique_clicks", group_by="sub1")).sql
    assert "sumIf(is_unique, kind = 'click' AND NOT is_bot)" in raw_unique
    assert "OVER" not in raw_unique  # a flag, summed: no window over the clicks


def test_statuses_and_rollup():
    query = build_query(spec(metrics="conversions", statuses="approved,pending",
                             group_by="campaign", rollup=True))
    assert query.parameters["statuses"] == ["approved", "pending"]
    assert "if(parent_campaign_id = '', campaign_id, parent_campaign_id) AS g_campaign" in query.sql


def test_sort_defaults_and_tie_breakers():
    query = build_query(spec(group_by="campaign,country", metrics="roi"))
    assert "ORDER BY roi DESC NULLS LAST, campaign ASC NULLS LAST, country ASC NULLS LAST" \
        in query.sql
    timeline = build_query(spec(group_by="hour,country", metrics="clicks"))
    assert "ORDER BY hour ASC NULLS LAST, country ASC NULLS LAST" in timeline.sql
    sorted_by = spec(group_by="campaign", metrics="clicks", sort="-roi")
    assert sorted_by.metrics == ("clicks", "roi")  # a sort metric is computed too


def test_ratios_are_null_on_zero_denominators_in_sql():
    for name in ("roi", "roas", "epc", "cr", "cpa", "cpc", "aov", "lp_ctr"):
        assert METRICS[name].sql().startswith("if(")
        assert "= 0, NULL" in METRICS[name].sql()


def test_names_for_entity_dimensions():
    query = build_query(spec(group_by="campaign,graph_version,offer"))
    names = [c.name for c in query.columns if c.role == "name"]
    assert names == ["campaign_name", "campaign_name_then", "offer_name", "offer_name_then"]
