from __future__ import annotations

import pytest

from turnout.config.compiled import CostModel
from turnout.edge.clicks import Tokens, source_slots
from turnout.edge.money import click_cost, parse_micros

PUSH = source_slots((("zoneid", "sub1"), ("creative", "sub2"), ("bid", "cost"),
                     ("clickid", "external_id")))


def test_source_names_win_over_ours_in_any_order():
    for params in ({"sub1": "ours", "zoneid": "theirs"}, {"zoneid": "theirs", "sub1": "ours"}):
        assert Tokens(params, PUSH).subs[0] == "theirs"
    tokens = Tokens({"sub1": "ours", "sub3": "3", "bid": "0.01", "clickid": "ext"}, PUSH)
    assert tokens.subs == ("ours", "", "3", "", "", "", "", "", "", "")
    assert tokens.cost == "0.01" and tokens.external_id == "ext"


def test_no_params():
    tokens = Tokens({}, PUSH)
    assert tokens.subs == ("",) * 10 and tokens.cost == "" and tokens.external_id == ""
    assert Tokens({"other": "x"}, PUSH).subs == ("",) * 10


@pytest.mark.parametrize(("text", "micros"), [
    ("0", 0), ("12.5", 12_500_000), ("0.0123", 12_300), ("0.001234", 1234), ("7.", None),
    ("-1", None), ("abc", None), ("", None), (" 3 ", 3_000_000),
    # Exact or refused (issue #10, finding 6): nothing is cut.
    ("0.0012345", None),
])
def test_parse_micros(text, micros):
    assert parse_micros(text) == micros


@pytest.mark.parametrize(("kind", "value", "token", "cost"), [
    ("cpc", 45_000, "", 45_000),
    ("cpc", 45_000, "9", 45_000),
    ("url_param", 0, "0.0123", 12_300),
    ("url_param", 0, "garbage", 0),
    ("url_param", 0, "", 0),
    ("cpm", 2_100_000, "", 2_100),
    ("cpa", 5_000_000, "", 0),
    ("revshare", 30_000_000, "", 0),
    ("fixed_total", 1_000_000_000, "", 0),
])
def test_click_cost(kind, value, token, cost):
    assert click_cost(CostModel(kind, value), token) == cost


def test_default_payout_is_the_offer_or_the_first_cta_offer():
    from types import SimpleNamespace

    from turnout.edge.clicks import default_payout

    offer = SimpleNamespace(payout_micros=4_100_000, next_offers=())
    lander = SimpleNamespace(payout_micros=0, next_offers=(offer,))
    assert default_payout(None) == 0
    assert default_payout(offer) == 4_100_000
    assert default_payout(lander) == 4_100_000
    assert default_payout(SimpleNamespace(payout_micros=0, next_offers=())) == 0
