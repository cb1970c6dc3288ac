"""The template filters: the API's decimal strings as a media buyer reads them."""

from __future__ import annotations

import pytest

from turnout.dashboard import filters


@pytest.mark.parametrize(("value", "currency", "shown"), [
    ("1234.5", "USD", "$1,234.50"),
    ("-12.345", "EUR", "-€12.35"),
    ("0", "GBP", "£0.00"),
    ("1500", "JPY", "¥1,500"),
    ("7.1", "CHF", "7.10 CHF"),
    (None, "USD", "\u2013"),
    ("", "USD", "\u2013"),
    ("not a number", "USD", "\u2013"),
])
def test_money(value, currency, shown):
    assert filters.money(value, currency) == shown


def test_money_never_goes_through_a_float():
    # As a float 0.305 is 0.30499999999999999, which would round down; money rounds the
    # exact decimal, half up.
    assert filters.money("0.305", "USD") == "$0.31"
    assert filters.money("1000000000000000.01", "USD") == "$1,000,000,000,000,000.01"


def test_percent_count_micros_and_metric():
    assert filters.percent("12.3456") == "12.35 %"
    assert filters.percent("-5") == "-5.00 %"
    assert filters.percent(None) == "\u2013"
    assert filters.count(1234567) == "1,234,567"
    assert filters.micros(12_500_000, "USD") == "$12.50"
    assert filters.metric("3.5", "money", "EUR") == "€3.50"
    assert filters.metric("20.8333", "percent", "EUR") == "20.83 %"
    assert filters.metric(42, "count", "EUR") == "42"
    assert filters.metric("d2", "", "EUR") == "d2"


@pytest.mark.parametrize(("weight", "weights", "shown"), [
    (3, [3, 1], "75.0 %"),
    (1, [3, 1], "25.0 %"),
    (-1, [3, -1], "0.0 %"),  # a negative weight counts as 0 (the API refuses it anyway)
    (0, [0, 0], "0 %"),
    ("x", ["x", 2], "0.0 %"),
])
def test_share(weight, weights, shown):
    assert filters.share(weight, weights) == shown
