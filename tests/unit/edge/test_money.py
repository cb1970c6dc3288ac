"""One exact money parser for cost tokens, payouts and event values (issue #10, finding 6)."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from turnout.config.compiled import CostModel
from turnout.edge import postback
from turnout.edge.errors import BadInput
from turnout.edge.money import (
    MAX_MICROS,
    AmountError,
    CostRefusals,
    amount_micros,
    click_cost,
    parse_micros,
)
from turnout.events import MICROS

_PLAIN = re.compile(r"[0-9]+(\.[0-9]+)?", re.ASCII)


def _reference(text: str) -> int | None:
    """The rule stated as simply as possible: a plain ASCII decimal whose value in micros
    is a whole number below the bound."""
    text = text.strip(" \t")
    if _PLAIN.fullmatch(text) is None:
        return None
    micros = Decimal(text) * MICROS
    if micros != micros.to_integral_value() or micros > MAX_MICROS:
        return None
    return int(micros)


@settings(max_examples=500, deadline=None)
@given(st.one_of(
    st.text(max_size=20),
    st.text(alphabet="0123456789.-+eE ", max_size=20),
    # Arabic-Indic and full-width digits: Unicode decimals that `int` would read.
    st.from_regex(r"\s?[0-9\u0660-\u0669\uff10-\uff19]{0,14}(\.[0-9]{0,9}0{0,3})?\s?",
                  fullmatch=True),
))
def test_parse_micros_matches_the_reference(text: str) -> None:
    assert parse_micros(text) == _reference(text)


@pytest.mark.parametrize(("text", "reason"), [
    ("\u0661\u0662", "ASCII digits"),  # Arabic-Indic 12
    ("\uff11\uff12", "ASCII digits"),  # full-width 12
    ("abc", "ASCII digits"),
    ("-0.5", "ASCII digits"),
    ("1e3", "ASCII digits"),
    ("NaN", "ASCII digits"),
    ("Infinity", "ASCII digits"),
    ("+1", "ASCII digits"),
    ("1_000", "ASCII digits"),
    ("10000000000", "below 1e10"),
    ("99999999999", "below 1e10"),
    ("9000000000000", "below 1e10"),
    ("0.0000001", "more than 6 decimals"),
    ("12.3456789", "more than 6 decimals"),
])
def test_what_is_not_an_exact_amount_is_refused_with_a_reason(text: str, reason: str) -> None:
    with pytest.raises(AmountError, match=reason):
        amount_micros(text)


def test_exact_amounts_and_the_bound() -> None:
    assert amount_micros("9999999999.999999") == MAX_MICROS
    assert amount_micros("0000000000012") == 12 * MICROS  # leading zeros add no digits
    assert amount_micros("1.50000000") == 1_500_000  # zeros past the sixth are exact
    assert amount_micros("0.000001") == 1


@pytest.mark.parametrize("text", ["١٢", "abc", "-0.5", "1e3", "NaN", "99999999999",
                                  "0.0000001"])
def test_a_postback_payout_that_is_not_exact_is_a_400_with_the_reason(text: str) -> None:
    with pytest.raises(BadInput) as caught:
        postback.payout_of(text)
    assert caught.value.status == 400
    assert caught.value.reason.startswith("payout ")


def test_a_cost_token_that_is_not_exact_counts_the_click_at_0_and_is_counted() -> None:
    model = CostModel("url_param", 0)
    before = CostRefusals.total
    assert click_cost(model, "١٢") == 0
    assert click_cost(model, "0.0012345") == 0
    assert click_cost(model, "١٢") == 0  # cached, still counted
    assert CostRefusals.total == before + 3
    assert click_cost(model, "0.012") == 12_000
    assert CostRefusals.total == before + 3
