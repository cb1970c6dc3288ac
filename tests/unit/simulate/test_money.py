from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from turnout.config.compiled import CostModel
from turnout.edge.money import parse_micros
from turnout.simulate import money

amounts = st.one_of(
    st.from_regex(r"\A[0-9]{1,13}(\.[0-9]{0,9})?\Z"),
    st.text(alphabet="0123456789.-e+ ", max_size=12),
)


@given(amounts)
def test_amounts_are_read_as_the_edge_reads_them(text):
    assert money.amount_micros(text) == parse_micros(text)


def test_cost_models():
    assert money.click_cost(CostModel("cpc", 45_000), None) == 45_000
    assert money.click_cost(CostModel("cpm", 2_100_000), "9") == 2_100
    assert money.click_cost(CostModel("url_param", 0), "0.001234") == 1_234
    assert money.click_cost(CostModel("url_param", 0), "0.0012345") == 0  # refused, not cut
    assert money.click_cost(CostModel("url_param", 0), "n/a") == 0
    assert money.click_cost(CostModel("url_param", 0), None) == 0
    assert money.click_cost(CostModel("cpa", 5_000_000), "1") == 0
    assert money.revshare_cost(12_500_000, 30_000_000) == 3_750_000
    assert money.revshare_cost(1, 30_000_000) == 0


def test_roi_is_cut_to_12_places_then_rounded_half_away_from_zero():
    assert money.roi(0, 0) is None
    assert money.roi(150, 100) == Decimal("50.00")
    assert money.roi(0, 300) == Decimal("-100.00")
    assert money.roi(2, 3) == Decimal("-33.33")
    assert money.roi(1_000_005, 1_000_000 * 1) == Decimal("0.00")  # 0.0005 %
    assert money.roi(1_000_050, 1_000_000) == Decimal("0.01")  # exactly half: away from 0
    assert money.roi(999_950, 1_000_000) == Decimal("-0.01")


def test_text():
    assert money.text(12_500_000) == "12.500000"
    assert money.text(-45_000) == "-0.045000"
    assert money.format_payout(12_500_000) == "12.5"
    assert money.format_payout(3_000_000) == "3"
