from __future__ import annotations

import dataclasses
from decimal import Decimal

from turnout.config.compiled import CostModel
from turnout.simulate.truth import ClickRecord, Ledger, LpRecord, compute

HOUR = 3_600_000


def click(campaign="summer", visitor="v1", ts=0, bot=False, cost=45_000, cid="", country="DE",
          device="mobile", keeps_cookies=True) -> ClickRecord:
    return ClickRecord("acme", campaign, country, device, visitor, bot, ts, cost, cid,
                       seq=ts, session=visitor if keeps_cookies else "")


def rows_of(ledger, graph, rates=None, **models):
    campaigns = dict(graph.campaigns_by_id)
    for cid, model in models.items():
        campaigns[cid] = dataclasses.replace(campaigns[cid], cost_model=model)
    return {row.key: row for row in compute(ledger, campaigns, rates)}


def test_unique_clicks_per_visitor_campaign_and_window(graph):
    # summer's unique window is 12 h; camp-a has the 24 h default.
    ledger = Ledger([
        # 12 h window, measured from the visitor's last unique click: 1st and 3rd are unique.
        click(ts=0), click(ts=11 * HOUR), click(ts=24 * HOUR),
        click(visitor="v2", ts=5), click(campaign="camp-a", ts=1, cost=0),
        click(ts=30, bot=True),  # a bot never makes the person's click non-unique
    ])
    rows = rows_of(ledger, graph)
    summer = rows[("acme", "summer", "DE", "mobile")]
    assert (summer.clicks, summer.unique_clicks, summer.bot_clicks) == (4, 3, 1)
    assert summer.cost_micros == 4 * 45_000  # the bot's cost is left out
    assert rows[("acme", "camp-a", "DE", "mobile")].unique_clicks == 1


def test_a_click_exactly_one_window_after_the_last_unique_one_is_unique(graph):
    ledger = Ledger([click(ts=0), click(ts=12 * HOUR - 1), click(ts=12 * HOUR)])
    assert rows_of(ledger, graph)[("acme", "summer", "DE", "mobile")].unique_clicks == 2


def test_window_is_anchored_at_the_last_unique_click(graph):
    ledger = Ledger([click(ts=0), click(ts=8 * HOUR), click(ts=16 * HOUR)])
    assert rows_of(ledger, graph)[("acme", "summer", "DE", "mobile")].unique_clicks == 2


def test_a_visitor_without_cookies_makes_every_click_unique(graph):
    ledger = Ledger([click(ts=t, keeps_cookies=False) for t in (0, HOUR, 2 * HOUR)])
    assert rows_of(ledger, graph)[("acme", "summer", "DE", "mobile")].unique_clicks == 3


def test_latest_status_per_click_and_txid(graph):
    ledger = Ledger([click(cid="A"), click(visitor="v2", cid="B"), click(visitor="v3", cid="C"),
                     click(visitor="v4", cid="D", bot=True)])
    ledger.accepted("A", "t1", "approved", 5_000_000)
    ledger.accepted("A", "t1", "approved", 5_000_000)  # exact duplicate: once
    ledger.accepted("A", "t2", "pending", 1_000_000)
    ledger.accepted("A", "t2", "approved", 1_000_000)  # pending -> approved
    ledger.accepted("B", "t3", "approved", 8_000_000)
    ledger.accepted("B", "t3", "chargeback", 8_000_000)  # revenue taken back
    ledger.accepted("C", "t4", "declined", 3_000_000)
    ledger.accepted("D", "t5", "approved", 9_000_000)  # a bot's click: never counted
    ledger.accepted("ZZZ", "t6", "approved", 9_000_000)  # no such click: never counted
    row = rows_of(ledger, graph)[("acme", "summer", "DE", "mobile")]
    assert (row.conversions, row.revenue_micros) == (2, 6_000_000)
    assert row.cost_micros == 3 * 45_000 and row.profit_micros == 6_000_000 - 135_000
    assert row.roi == Decimal("4344.44")
    assert ledger.final_statuses() == {"approved": 4, "chargeback": 1, "declined": 1}


def test_deferred_cost_models(graph):
    ledger = Ledger([click(cid="A", cost=0), click(visitor="v2", cid="B", cost=0),
                     click(visitor="v3", cost=0, country="SE")])
    ledger.accepted("A", "t1", "approved", 10_000_000)
    ledger.accepted("B", "t2", "pending", 10_000_000)
    cpa = rows_of(ledger, graph, summer=CostModel("cpa", 2_000_000))
    assert cpa[("acme", "summer", "DE", "mobile")].cost_micros == 2_000_000
    share = rows_of(ledger, graph, summer=CostModel("revshare", 33_333_333))
    assert share[("acme", "summer", "DE", "mobile")].cost_micros == 3_333_333
    fixed = rows_of(ledger, graph, summer=CostModel("fixed_total", 100_000_000))
    assert fixed[("acme", "summer", "DE", "mobile")].cost_micros == 66_666_666
    assert fixed[("acme", "summer", "SE", "mobile")].cost_micros == 33_333_333


def test_lp_clicks_and_rows_without_people(graph):
    ledger = Ledger([click(bot=True, device="desktop")],
                    [LpRecord(("acme", "summer", "DE", "mobile"), False),
                     LpRecord(("acme", "summer", "DE", "mobile"), True)])
    rows = rows_of(ledger, graph)
    bots_only = rows[("acme", "summer", "DE", "desktop")]
    assert (bots_only.clicks, bots_only.bot_clicks, bots_only.roi) == (0, 1, None)
    assert rows[("acme", "summer", "DE", "mobile")].lp_clicks == 1
    assert bots_only.as_dict()["cost"] == "0.000000"


def test_payouts_in_another_currency_are_converted_at_their_days_rate(graph):
    """As reports/fx.py: payout x rate(workspace) / rate(currency) of the conversion's UTC
    day, to the micro, half-even; no rate that day: held (counted, no money)."""
    from turnout.config.fx_rates import parse_csv

    day1, day2 = 1_709_892_000_000, 1_709_978_400_000  # 2024-03-08 10:00, 03-09 10:00 UTC
    rates = parse_csv("date,currency,rate\n2024-03-08,USD,1.0825\n2024-03-08,GBP,0.8\n")
    workspace = graph.campaigns_by_id["summer"].workspace.currency
    assert workspace == "EUR"
    ledger = Ledger([click(cid=c, visitor=c) for c in "ABCDE"])
    ledger.accepted("A", "t1", "approved", 12_500_000, "USD", day1)  # 11.5473441... -> .547344
    ledger.accepted("B", "t2", "approved", 6, "GBP", day1)  # 7.5 micros -> the even 8
    ledger.accepted("C", "t3", "approved", 7_000_000, "EUR", day2)  # its own: no rate needed
    ledger.accepted("D", "t4", "approved", 3_000_000, "", day2)  # "" is the workspace's
    ledger.accepted("E", "t5", "approved", 9_000_000, "USD", day2)  # no rate on day 2: held
    row = rows_of(ledger, graph, rates)[("acme", "summer", "DE", "mobile")]
    assert row.revenue_micros == 11_547_344 + 8 + 7_000_000 + 3_000_000
    assert (row.conversions, row.held_conversions) == (5, 1)
    # RevShare is taken from the converted amount.
    share = rows_of(ledger, graph, rates, summer=CostModel("revshare", 50_000_000))
    assert share[("acme", "summer", "DE", "mobile")].cost_micros == (
        5 * 45_000 + 5_773_672 + 4 + 3_500_000 + 1_500_000)
    # Without rates every foreign payout is held.
    bare = rows_of(ledger, graph)[("acme", "summer", "DE", "mobile")]
    assert (bare.revenue_micros, bare.held_conversions) == (10_000_000, 3)
