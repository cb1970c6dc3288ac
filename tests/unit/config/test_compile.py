from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import msgspec
import pytest

from turnout import splitter
from turnout.config.compile import compile_graph
from turnout.config.compiled import CompiledBudget, CompiledGraph, Target
from turnout.config.errors import GraphInvalid
from turnout.config.io import load_graph
from turnout.config.model import Rule
from turnout.config.templates import Template
from turnout.splitter.types import Visitor

EXAMPLE = load_graph(Path(__file__).parents[3] / "config" / "examples" / "graph.yaml")
MONDAY_10_BERLIN = int(datetime(2025, 6, 2, 8, 0, tzinfo=UTC).timestamp() * 1000)
SATURDAY_10_BERLIN = int(datetime(2025, 6, 7, 8, 0, tzinfo=UTC).timestamp() * 1000)
VISITORS = 4000


@pytest.fixture(scope="module")
def compiled() -> CompiledGraph:
    return compile_graph(EXAMPLE, version=7)


def _target(compiled: CompiledGraph, code: str, visitor: Visitor, now_ms: int
            ) -> tuple[str, Target]:
    choice = splitter.decide(compiled.campaigns_by_code[code].table, visitor, now_ms)
    assert choice is not None
    return choice.rule_id, choice.destination.payload


def _within(count: int, n: int, p: float) -> bool:
    """Inside 5 standard deviations of a fair binomial: a real skew fails, noise does not."""
    sd = (n * p * (1 - p)) ** 0.5
    return abs(count - n * p) <= 5 * sd


def test_lookups_and_scalars(compiled):
    assert compiled.version == 7
    assert set(compiled.campaigns_by_code) == {"CAMP_A", "INSTA_SUMMER_01",
                                               "INSTA_SUMMER_01_STORIES"}
    camp_a = compiled.campaigns_by_id["camp-a"]
    assert compiled.campaigns_by_code["CAMP_A"] is camp_a
    assert camp_a.workspace is compiled.workspaces_by_id["acme"]
    assert camp_a.workspace.timezone == "Europe/Berlin"
    assert [str(n) for n in camp_a.workspace.bot_networks] == ["66.249.64.0/19",
                                                               "2001:db8:ffff::/48"]
    assert camp_a.redirect_mode == "302"
    assert camp_a.bot_policy.action == "url"
    assert camp_a.bot_policy.url == Template.parse("https://www.example.com/?bot=1")
    assert camp_a.inactive.action == "not_found" and camp_a.inactive.url is None
    assert camp_a.cost_model.type == "url_param"
    assert camp_a.attribution_window_ms == 30 * 86_400_000
    assert camp_a.unique_window_ms == 24 * 3_600_000
    source = camp_a.traffic_source
    assert source.tokens["external_id"] == "clickid"
    assert ("zoneid", "sub1") in source.params
    assert source.postback_url is not None and "payout" in source.postback_url.macros


def test_money_schedule_and_windows(compiled):
    summer = compiled.campaigns_by_id["summer"]
    assert summer.parent_id is None
    assert compiled.campaigns_by_id["summer-stories"].parent_id == "summer"
    # Naive schedule times are Berlin wall time (CEST, UTC+2 in June).
    assert summer.start_ms == int(datetime(2025, 5, 31, 22, tzinfo=UTC).timestamp() * 1000)
    assert summer.budget == CompiledBudget(5_000_000_000, "total",
                                           ((90, "pause"), (100, "complete")))
    assert summer.cost_model.value_micros == 45_000
    assert summer.attribution_window_ms == 14 * 86_400_000
    assert summer.unique_window_ms == 12 * 3_600_000
    assert not summer.is_live(summer.start_ms - 1)
    assert summer.is_live(summer.start_ms)
    assert summer.end_ms is not None and not summer.is_live(summer.end_ms)
    offer = compiled.offers_by_id["vpn-us"]
    assert (offer.payout_micros, offer.currency, offer.daily_cap) == (12_500_000, "USD", 200)
    assert (offer.daily_click_cap, offer.fallback_offer_id) == (50, "vpn-global")
    assert compiled.offers_by_id["antivirus"].currency == "EUR"  # the workspace's
    network = compiled.networks_by_id["alpha-net"]
    assert network.statuses["-1"] == "declined"
    assert network.statuses["approved"] == "approved"  # canonical words always map
    assert [str(n) for n in network.ip_allowlist] == ["198.51.100.0/24"]
    assert compiled.networks_by_id["beta-net"].hmac_key == "beta-hmac-signing-key-02"


def test_rules_sorted_by_priority_once(compiled):
    table = compiled.campaigns_by_id["summer"].table
    assert [r.rule_id for r in table.rules] == ["office-hours", "mobile", "not-desktop-eu",
                                                "default"]


def test_priority_ties_keep_file_order():
    campaign = EXAMPLE.campaigns[0]
    rules = (
        msgspec.structs.replace(campaign.rules[0], priority=5),
        msgspec.structs.replace(campaign.rules[1], id="second"),
        msgspec.structs.replace(campaign.rules[1], id="third", priority=0),
        msgspec.structs.replace(campaign.rules[1], id="first", priority=-3),
    )
    graph = msgspec.structs.replace(
        EXAMPLE, campaigns=(msgspec.structs.replace(campaign, rules=rules), *EXAMPLE.campaigns[1:])
    )
    table = compile_graph(graph, 1).campaigns_by_id["camp-a"].table
    assert [r.rule_id for r in table.rules] == ["first", "second", "third", "russia", "default"]


def test_design_notes_russia_always_gets_lander_b(compiled):
    seen = Counter(
        _target(compiled, "CAMP_A", Visitor(visitor_id=f"ru-{i}", country="RU"),
                MONDAY_10_BERLIN)[1].lander_id
        for i in range(VISITORS)
    )
    assert seen == {"lp-b": VISITORS}


@pytest.mark.parametrize(("country", "rule"), [("US", "usa"), ("DE", "default"),
                                                ("BR", "default"), ("", "default")])
def test_design_notes_others_split_50_50(compiled, country, rule):
    rules = Counter()
    landers = Counter()
    for i in range(VISITORS):
        rule_id, target = _target(compiled, "CAMP_A",
                                  Visitor(visitor_id=f"{country}-{i}", country=country),
                                  MONDAY_10_BERLIN)
        rules[rule_id] += 1
        landers[target.lander_id] += 1
    assert rules == {rule: VISITORS}
    assert set(landers) == {"lp-usa", "lp-global"}
    assert _within(landers["lp-usa"], VISITORS, 0.5)


def test_choice_is_sticky(compiled):
    visitor = Visitor(visitor_id="returning-visitor", country="US")
    first = _target(compiled, "CAMP_A", visitor, MONDAY_10_BERLIN)
    assert all(_target(compiled, "CAMP_A", visitor, MONDAY_10_BERLIN + i * 3_600_000) == first
               for i in range(50))


def test_device_and_time_rules(compiled):
    desktop_de = Visitor(visitor_id="v1", country="DE", device="desktop")
    rule, target = _target(compiled, "INSTA_SUMMER_01", desktop_de, MONDAY_10_BERLIN)
    assert (rule, target.kind, target.lander_id) == ("office-hours", "lander", "lp-compare")
    assert [o.offer_id for o in target.next_offers] == ["antivirus", "vpn-us"]
    # Saturday: no office hours; a desktop visitor in the EU falls to the default path.
    rule, _ = _target(compiled, "INSTA_SUMMER_01", desktop_de, SATURDAY_10_BERLIN)
    assert rule == "default"
    desktop_us = Visitor(visitor_id="v2", country="US", device="desktop")
    rule, target = _target(compiled, "INSTA_SUMMER_01", desktop_us, SATURDAY_10_BERLIN)
    assert (rule, target.offer_id, target.payout_micros) == ("not-desktop-eu", "antivirus",
                                                             8_000_000)
    kinds = Counter(
        _target(compiled, "INSTA_SUMMER_01", Visitor(visitor_id=f"m{i}", device="mobile"),
                MONDAY_10_BERLIN)[1].kind
        for i in range(VISITORS)
    )
    assert set(kinds) == {"offer", "funnel"}
    assert _within(kinds["offer"], VISITORS, 0.7)


def test_funnel_and_lander_targets(compiled):
    table = compiled.campaigns_by_id["summer-stories"].table
    funnel = table.rules[-1].choices[0].destination.payload
    assert (funnel.kind, funnel.funnel_id, funnel.lander_id) == ("funnel", "quiz-funnel",
                                                                 "lp-quiz")
    assert funnel.url == compiled.landers_by_id["lp-quiz"].url
    step2 = funnel.after(0)
    assert step2 is not None and step2.lander_id == "lp-quiz-result"
    offer = funnel.after(1, 1)
    assert offer is not None and (offer.offer_id, offer.network_id) == ("antivirus", "beta-net")
    assert funnel.after(1, 2) is None and funnel.after(2) is None
    url = table.rules[0].choices[0].destination.payload
    assert url.kind == "url"
    assert url.url.render({"clickid": "C1", "sub2": "a b"}) == (
        "https://shop.example.com/summer?cid=C1&ad=a%20b")
    assert compiled.funnels_by_id["quiz-funnel"].lander_ids == ("lp-quiz", "lp-quiz-result")


def test_lander_cta_offers(compiled):
    rule = compiled.campaigns_by_id["camp-a"].table.rules[0]
    lander = rule.choices[0].destination.payload
    assert (lander.kind, lander.lander_id) == ("lander", "lp-b")
    assert rule.choices[0].destination.id == "b"
    assert lander.after(0, 1).offer_id == "dating-ru"
    assert lander.after(0, 2) is None


def test_capped_offer_hands_traffic_to_its_fallback():
    compiled = compile_graph(EXAMPLE, 1, capped_offers=frozenset({"vpn-us"}))
    usa = compiled.campaigns_by_id["camp-a"].table.rules[1].choices[0].destination.payload
    assert usa.lander_id == "lp-usa"
    assert [o.offer_id for o in usa.next_offers] == ["vpn-global"]
    assert usa.next_offers[0].payout_micros == 4_100_000


def test_capped_offer_without_fallback_is_unavailable():
    compiled = compile_graph(EXAMPLE, 1, capped_offers=frozenset({"cleaner-app"}))
    table = compiled.campaigns_by_id["summer"].table
    mobile = next(r for r in table.rules if r.rule_id == "mobile")
    assert [c.destination.id for c in mobile.choices] == ["quiz"]
    kinds = {splitter.decide(table, Visitor(visitor_id=f"m{i}", device="mobile"),
                             MONDAY_10_BERLIN).destination.payload.kind for i in range(300)}
    assert kinds == {"funnel"}
    # A capped offer with no fallback stays on a lander's CTA: the visitor already chose.
    both = compile_graph(EXAMPLE, 1, capped_offers=frozenset({"vpn-us", "vpn-global"}))
    usa = both.campaigns_by_id["camp-a"].table.rules[1].choices[0].destination.payload
    assert [o.offer_id for o in usa.next_offers] == ["vpn-us"]


def test_paused_destination_is_skipped_and_rule_falls_through():
    campaign = EXAMPLE.campaigns[0]
    russia = campaign.rules[0]
    paused = msgspec.structs.replace(
        russia, destinations=(msgspec.structs.replace(russia.destinations[0], paused=True),)
    )
    graph = msgspec.structs.replace(EXAMPLE, campaigns=(
        msgspec.structs.replace(campaign, rules=(paused, *campaign.rules[1:])),
        *EXAMPLE.campaigns[1:]))
    table = compile_graph(graph, 2).campaigns_by_id["camp-a"].table
    choice = splitter.decide(table, Visitor(visitor_id="r", country="RU"), MONDAY_10_BERLIN)
    assert choice is not None and choice.rule_id == "default"


def test_invalid_graph_does_not_compile():
    broken = msgspec.structs.replace(EXAMPLE, campaigns=(
        msgspec.structs.replace(EXAMPLE.campaigns[0], rules=(Rule(id="r"),)),))
    with pytest.raises(GraphInvalid) as info:
        compile_graph(broken, 1)
    assert [str(p) for p in info.value.problems] == [
        "campaigns[0].rules[0].destinations: needs at least one destination"
    ]


def test_cidr_lists_are_indexed_once_per_version(compiled):
    import dataclasses
    import ipaddress

    workspace = compiled.workspaces_by_id["acme"]
    assert ipaddress.ip_address("66.249.95.255") in workspace.bot_index
    assert ipaddress.ip_address("66.249.96.0") not in workspace.bot_index
    assert ipaddress.ip_address("2001:db8:ffff:1::1") in workspace.bot_index
    alpha = compiled.networks_by_id["alpha-net"]
    assert ipaddress.ip_address("198.51.100.9") in alpha.allowlist_index
    assert ipaddress.ip_address("198.51.101.9") not in alpha.allowlist_index
    assert not compiled.networks_by_id["beta-net"].allowlist_index
    # Derived from the CIDR list, so a copy with other ranges gets its own index.
    other = dataclasses.replace(workspace, bot_networks=(ipaddress.ip_network("10.0.0.0/8"),))
    assert ipaddress.ip_address("10.1.2.3") in other.bot_index
    assert ipaddress.ip_address("66.249.64.1") not in other.bot_index
    assert other != workspace and dataclasses.replace(workspace) == workspace


def test_equal_conditions_and_urls_are_built_once_but_one_is_not_true():
    campaign = EXAMPLE.campaigns[2]  # summer-stories: a query rule and a url destination
    [rule] = campaign.rules
    query = rule.conditions[0]
    rules = tuple(
        msgspec.structs.replace(rule, id=f"r{i}", conditions=(
            msgspec.structs.replace(query, values=values),)) for i, values in
        enumerate([("story-b",), (1,), (True,), ("story-b",)])
    )
    copies = tuple(msgspec.structs.replace(campaign, id=f"copy{i}", code=f"COPY{i}", rules=rules)
                   for i in range(2))
    graph = msgspec.structs.replace(EXAMPLE, campaigns=(*EXAMPLE.campaigns, *copies))
    compiled = compile_graph(graph, version=1)
    tables = [compiled.campaigns_by_id[f"copy{i}"].table for i in range(2)]
    assert [r.rule_id for r in tables[0].rules] == ["r0", "r1", "r2", "r3", "default"]
    url_targets = [choice.destination.payload.url for table in tables for rule in table.rules
                   if rule.rule_id == "r0" for choice in rule.choices]
    assert len(url_targets) == 2 and url_targets[0] is url_targets[1]
    for visitor_query, matched in (({"utm_content": "1"}, "r1"), ({"utm_content": "true"}, "r2")):
        choice = splitter.decide(tables[1], Visitor(visitor_id="v", query=visitor_query), 0)
        assert choice is not None and choice.rule_id == matched
