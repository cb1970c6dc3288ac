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


def test_default_terms_are_the_offer_or_the_first_cta_offer():
    from types import SimpleNamespace

    from turnout.edge.clicks import default_terms

    offer = SimpleNamespace(payout_micros=4_100_000, currency="USD", next_offers=())
    lander = SimpleNamespace(payout_micros=0, currency="", next_offers=(offer,))
    assert default_terms(None) == (0, "")
    assert default_terms(offer) == (4_100_000, "USD")
    assert default_terms(lander) == (4_100_000, "USD")
    assert default_terms(SimpleNamespace(payout_micros=0, currency="", next_offers=())) == (0, "")
    # An offer paying nothing by default still names its currency (for a named payout).
    free = SimpleNamespace(payout_micros=0, currency="GBP", next_offers=())
    assert default_terms(free) == (0, "GBP")


def test_clicks_carry_the_currency_their_offer_pays_in(compiled):
    """The example workspace counts in EUR; vpn-us pays in USD, dating-ru names no
    currency (so EUR). Every click path carries its paying offer's currency."""
    from turnout.edge.clicks import click_stub

    seen_offers: dict[str, str] = {}
    for campaign in compiled.campaigns_by_id.values():
        for rule in campaign.table.rules:
            for choice in rule.choices:
                target = choice.destination.payload
                stub = click_stub(kind="click", campaign=campaign, graph_version=1,
                                  rule_id=rule.rule_id, destination_id=choice.destination.id,
                                  target=target, funnel_step=0)
                paying = (target if target is None or target.offer_id or not target.next_offers
                          else target.next_offers[0])
                offer = compiled.offers_by_id.get(paying.offer_id) if paying else None
                assert stub.offer_currency == (offer.currency if offer else "")
                if offer is not None:
                    seen_offers[offer.id] = stub.offer_currency
    assert seen_offers["vpn-us"] == "USD" and seen_offers["dating-ru"] == "EUR"
