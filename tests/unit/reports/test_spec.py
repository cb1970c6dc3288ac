from __future__ import annotations

import datetime as dt

import pytest

from turnout.reports.errors import ParameterError
from turnout.reports.spec import build_spec, parse_range, parse_sort, split_list, truthy

UTC = dt.UTC


def test_dates_are_whole_local_days():
    problems: list[str] = []
    start, end = parse_range("2024-10-27", "2024-10-27", "Europe/Berlin", problems)
    assert problems == []
    assert start == dt.datetime(2024, 10, 26, 22, tzinfo=UTC)
    assert end == dt.datetime(2024, 10, 27, 23, tzinfo=UTC)  # a 25-hour day


def test_times_offsets_and_defaults():
    problems: list[str] = []
    start, end = parse_range("2024-01-01T10:30", "2024-01-01T12:00+00:00", "Asia/Tokyo",
                             problems)
    assert start == dt.datetime(2024, 1, 1, 1, 30, tzinfo=UTC)
    assert end == dt.datetime(2024, 1, 1, 12, tzinfo=UTC)
    start, end = parse_range(None, None, "UTC", problems, today=dt.date(2024, 3, 30))
    assert start == dt.datetime(2024, 3, 1, tzinfo=UTC) and end is None
    assert parse_range("all", None, "UTC", problems) == (None, None)
    assert problems == []


def test_bad_ranges():
    problems: list[str] = []
    parse_range("2024-02-02", "2024-02-01", "UTC", problems)
    parse_range("last week", None, "UTC", problems)
    assert len(problems) == 2


def test_sort_forms():
    problems: list[str] = []
    sorts = parse_sort("-roi,country,clicks:asc,+cr", problems)
    assert [(s.name, s.descending) for s in sorts] == [
        ("roi", True), ("country", False), ("clicks", False), ("cr", False)]
    assert problems == []


def test_filters_are_typed():
    spec = build_spec(workspace="w", filters={"graph_version": ["3,4"], "date": ["2024-01-02"],
                                              "country": ["US", "GB,DE"]})
    assert dict(spec.filters) == {"country": ("US", "GB", "DE"), "date": (dt.date(2024, 1, 2),),
                                  "graph_version": (3, 4)}
    with pytest.raises(ParameterError):
        build_spec(workspace="w", filters={"funnel_step": ["-1"]})
    with pytest.raises(ParameterError):
        build_spec(workspace="w", filters={"country": [""]})


def test_limits_and_sort_on_ungrouped_dimension():
    for bad in ({"limit": 0}, {"limit": 10**9}, {"offset": -1},
                {"sort": "country"}, {"workspace": ""}):
        with pytest.raises(ParameterError):
            build_spec(**{"workspace": "w", **bad})


def test_split_list():
    assert split_list(["a, b", "c", ""]) == ("a", "b", "c")
    assert split_list(None) == ()


@pytest.mark.parametrize("start, end", [
    ("0001-01-01", None), (None, "9999-12-31"), ("1899-12-31", None), ("2299-12-31", None),
    ("0001-01-01T00:00", None), ("\uff19\uff19\uff19\uff19-01-01", None)  # fullwidth digits,
])
def test_bounds_outside_what_clickhouse_stores_are_bad_parameters(start, end):
    # Regression (issue #15): from=0001-01-01 and to=9999-12-31 were an OverflowError (500).
    with pytest.raises(ParameterError, match="between 1900 and 2298"):
        build_spec(workspace="w", start=start, end=end)


def test_a_huge_offset_is_a_bad_parameter():
    # Regression (issue #15): offset=18446744073709551616 was a TypeError (500).
    with pytest.raises(ParameterError, match=r"offset 0\.\.1000000000"):
        build_spec(workspace="w", offset="18446744073709551616")
    assert build_spec(workspace="w", offset="1000000000").offset == 1_000_000_000


def test_booleans_are_what_the_document_says_and_nothing_else():
    # issue #15: `totals=` (empty) was read as false though the document says boolean.
    assert truthy(None, "totals") is False
    assert truthy("true", "totals") is True and truthy("false", "totals") is False
    for raw in ("", "1", "0", "yes", "on", "TRUE", " true"):
        with pytest.raises(ParameterError, match="totals: expected true or false"):
            truthy(raw, "totals")
