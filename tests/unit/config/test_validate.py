"""One mistake at a time on the (valid) example graph: exactly that problem, with its path."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
import pytest

from turnout.config.io import graph_from_builtins, load_graph
from turnout.config.validate import validate

EXAMPLES = Path(__file__).parents[3] / "config" / "examples"
BASE: dict[str, Any] = msgspec.json.decode(msgspec.json.encode(load_graph(EXAMPLES / "graph.yaml")))

Data = dict[str, Any]


def problems_after(mutate: Callable[[Data], object]) -> list[str]:
    data = copy.deepcopy(BASE)
    mutate(data)
    return [str(p) for p in validate(graph_from_builtins(data))]


def campaign(data: Data, cid: str) -> tuple[int, Data]:
    return next((i, c) for i, c in enumerate(data["campaigns"]) if c["id"] == cid)


def _second_workspace(data: Data) -> None:
    data["workspaces"].append({"id": "other", "name": "Other", "timezone": "UTC"})
    data["traffic_sources"].append({"id": "ts2", "workspace": "other", "name": "TS2"})


def test_example_graph_is_clean():
    assert problems_after(lambda d: None) == []


def test_broken_example_has_exactly_five_problems():
    problems = [str(p) for p in validate(load_graph(EXAMPLES / "broken-graph.yaml"))]
    assert [p.split(":", 1)[0] for p in problems] == [
        "offers[0].network",
        "landers[0].url",
        "campaigns[0].rules[0].conditions[0].values",
        "campaigns[0].rules[0].destinations[1].weight",
        "campaigns[1].code",
    ]


CASES: list[tuple[str, Callable[[Data], object], list[str]]] = [
    # dangling references
    ("offer network", lambda d: d["offers"][0].update(network="gamma"),
     ["offers[0].network: unknown network 'gamma'"]),
    ("campaign traffic source", lambda d: d["campaigns"][0].update(traffic_source="tv"),
     ["campaigns[0].traffic_source: unknown traffic source 'tv'"]),
    ("campaign parent", lambda d: d["campaigns"][2].update(parent="nope"),
     ["campaigns[2].parent: unknown campaign 'nope'"]),
    ("campaign workspace", lambda d: d["campaigns"][2].update(workspace="ghost"),
     ["campaigns[2].workspace: unknown workspace 'ghost'"]),
    ("source workspace", lambda d: d["traffic_sources"][1].update(workspace="ghost"),
     ["traffic_sources[1].workspace: unknown workspace 'ghost'"]),
    ("destination offer", lambda d: d["campaigns"][1]["rules"][1]["destinations"][0].update(
        ref="gone"), ["campaigns[1].rules[1].destinations[0].ref: unknown offer 'gone'"]),
    ("destination lander", lambda d: d["campaigns"][0]["default"][1].update(ref="gone"),
     ["campaigns[0].default[1].ref: unknown lander 'gone'"]),
    ("destination funnel", lambda d: d["campaigns"][2]["default"][0].update(ref="gone"),
     ["campaigns[2].default[0].ref: unknown funnel 'gone'"]),
    ("lander cta offer", lambda d: d["campaigns"][0]["rules"][0]["destinations"][0].update(
        offers=["gone"]),
     ["campaigns[0].rules[0].destinations[0].offers[0]: unknown offer 'gone'"]),
    ("funnel lander", lambda d: d["funnels"][0].update(landers=["lp-quiz", "gone"]),
     ["funnels[0].landers[1]: unknown lander 'gone'"]),
    ("funnel offer", lambda d: d["funnels"][0].update(offers=["gone"]),
     ["funnels[0].offers[0]: unknown offer 'gone'"]),
    ("fallback offer", lambda d: d["offers"][0].update(fallback_offer="gone"),
     ["offers[0].fallback_offer: unknown offer 'gone'"]),
    # duplicates
    ("duplicate offer id", lambda d: d["offers"].append(dict(d["offers"][2], name="Again")),
     ["offers[5].id: duplicate id 'antivirus' (first at offers[2])"]),
    ("duplicate code", lambda d: d["campaigns"][2].update(code="CAMP_A"),
     ["campaigns[2].code: duplicate tracking code 'CAMP_A' (also campaigns[0].code)"]),
    ("duplicate code across workspaces", lambda d: (_second_workspace(d), d["campaigns"].append(
        {"id": "c2", "workspace": "other", "name": "C2", "code": "CAMP_A",
         "traffic_source": "ts2",
         "default": [{"id": "u", "kind": "url", "url": "https://x.example.com/"}]})),
     ["campaigns[3].code: duplicate tracking code 'CAMP_A' (also campaigns[0].code)"]),
    ("duplicate rule id", lambda d: d["campaigns"][1]["rules"][1].update(id="office-hours"),
     ["campaigns[1].rules[1].id: duplicate rule id 'office-hours' "
      "(first at campaigns[1].rules[0])"]),
    ("reserved rule id", lambda d: d["campaigns"][1]["rules"][1].update(id="default"),
     ["campaigns[1].rules[1].id: 'default' is reserved for the default path"]),
    ("duplicate destination id", lambda d: d["campaigns"][0]["default"][1].update(id="usa"),
     ["campaigns[0].default[1].id: duplicate destination id 'usa' "
      "(first at campaigns[0].default[0])"]),
    ("bad id", lambda d: d["landers"].append(dict(d["landers"][0], id="has space")),
     ["landers[6].id: must match [A-Za-z0-9_-]{1,64}, got 'has space'"]),
    ("bad code", lambda d: d["campaigns"][0].update(code="A/B"),
     ["campaigns[0].code: must match [A-Za-z0-9_-]{1,64}, got 'A/B'"]),
    # conditions (values checked by the splitter)
    ("bad country", lambda d: d["campaigns"][0]["rules"][0]["conditions"][0].update(
        values=["RU", "XX"]),
     ["campaigns[0].rules[0].conditions[0].values: unknown country code or group 'XX'"]),
    ("bad hour", lambda d: d["campaigns"][1]["rules"][0]["conditions"][1].update(values=[24]),
     ["campaigns[1].rules[0].conditions[1].values: bad hour '24' (0-23, or a range like "
      "'9-17' or '22-3')"]),
    ("query without param", lambda d: d["campaigns"][2]["rules"][0]["conditions"][0].update(
        param=""), ["campaigns[2].rules[0].conditions[0].param: query conditions need a param "
                    "(the parameter name)"]),
    ("unknown condition kind", lambda d: d["campaigns"][0]["rules"][0]["conditions"][0].update(
        kind="planet"), ["campaigns[0].rules[0].conditions[0].kind: unknown condition kind "
                         "'planet' (expected one of asn, bot, browser, city, country, "
                         "date_range, device, hour, ip, language, os, query, referrer, region, "
                         "weekday)"]),
    # weights and availability
    ("negative weight", lambda d: d["campaigns"][0]["rules"][1]["destinations"][0].update(
        weight=-1), ["campaigns[0].rules[1].destinations[0].weight: must be >= 0"]),
    ("rule without destinations", lambda d: d["campaigns"][0]["rules"][1].update(
        destinations=[]), ["campaigns[0].rules[1].destinations: needs at least one destination"]),
    ("rule all weights zero", lambda d: [x.update(weight=0) for x in
                                         d["campaigns"][0]["rules"][1]["destinations"]],
     ["campaigns[0].rules[1].destinations: all weights are 0"]),
    ("default all paused", lambda d: [x.update(paused=True) for x in d["campaigns"][0]["default"]],
     ["campaigns[0].default: needs at least one destination that is not paused and has a "
      "weight > 0"]),
    ("default empty", lambda d: d["campaigns"][2].update(default=[]),
     ["campaigns[2].default: needs at least one destination that is not paused and has a "
      "weight > 0"]),
    # hierarchy
    ("parent cycle", lambda d: d["campaigns"][1].update(parent="summer-stories"),
     ["campaigns[1].parent: cycle: summer -> summer-stories -> summer",
      "campaigns[2].parent: cycle: summer-stories -> summer -> summer-stories"]),
    ("own parent", lambda d: d["campaigns"][0].update(parent="camp-a"),
     ["campaigns[0].parent: must not be the campaign itself",
      "campaigns[0].parent: cycle: camp-a -> camp-a"]),
    # templates
    ("unknown macro", lambda d: d["landers"][0].update(url="https://lp.example.com/?c={cid}"),
     ["landers[0].url: unknown macro {cid}"]),
    ("relative url", lambda d: d["offers"][1].update(url="/vpn?sub={clickid}"),
     ["offers[1].url: must be an absolute http(s) URL"]),
    ("macro host", lambda d: d["campaigns"][2]["rules"][0]["destinations"][0].update(
        url="https://{param:to}/x"),
     ["campaigns[2].rules[0].destinations[0].url: scheme and host must be literal "
      "(no macro before the path)"]),
    ("bad fallback url", lambda d: d["workspaces"][0].update(fallback_url="javascript:x()"),
     ["workspaces[0].fallback_url: must be an absolute http(s) URL"]),
    ("postback macro", lambda d: d["traffic_sources"][0].update(
        postback_url="https://pb.example.net/?x={nonsense}"),
     ["traffic_sources[0].postback_url: unknown macro {nonsense}"]),
    # workspace settings
    ("bad timezone", lambda d: d["workspaces"][0].update(timezone="Mars/Olympus"),
     ["workspaces[0].timezone: unknown IANA timezone 'Mars/Olympus'"]),
    ("bad workspace currency", lambda d: d["workspaces"][0].update(currency="EURO"),
     ["workspaces[0].currency: unknown ISO 4217 currency 'EURO'"]),
    ("bad offer currency", lambda d: d["offers"][0].update(currency="usd"),
     ["offers[0].currency: unknown ISO 4217 currency 'usd'"]),
    ("bad cidr", lambda d: d["workspaces"][0].update(bot_ip_ranges=["10.0.0.1/8"]),
     ["workspaces[0].bot_ip_ranges[0]: not a CIDR block: 10.0.0.1/8 has host bits set"]),
    # money
    ("bad payout", lambda d: d["offers"][0].update(payout="12,50"),
     ["offers[0].payout: must be a decimal amount like \"12.50\" (at most 6 decimals), "
      "got '12,50'"]),
    ("negative payout", lambda d: d["offers"][0].update(payout="-1.00"),
     ["offers[0].payout: must be >= 0"]),
    ("too precise budget", lambda d: d["campaigns"][1].update(budget="1.0000001"),
     ["campaigns[1].budget: must be a decimal amount like \"12.50\" (at most 6 decimals), "
      "got '1.0000001'"]),
    ("bad cost value", lambda d: d["campaigns"][1].update(cost_model={"type": "cpc",
                                                                      "value": "1e3"}),
     ["campaigns[1].cost_model.value: must be a decimal amount like \"12.50\" "
      "(at most 6 decimals), got '1e3'"]),
    ("revshare over 100", lambda d: d["campaigns"][1].update(cost_model={"type": "revshare",
                                                                         "value": "150"}),
     ["campaigns[1].cost_model.value: a revshare percentage must be <= 100"]),
    ("bad cost type", lambda d: d["campaigns"][1].update(cost_model={"type": "cpv"}),
     ["campaigns[1].cost_model.type: must be one of cpc, url_param, cpm, cpa, revshare, "
      "fixed_total, got 'cpv'"]),
    # schedule and modes
    ("end before start", lambda d: d["campaigns"][1].update(
        schedule={"start": "2025-06-01T00:00:00", "end": "2025-05-31T23:59:59"}),
     ["campaigns[1].schedule.end: must be after schedule.start"]),
    ("end equal with offsets", lambda d: d["campaigns"][1].update(
        schedule={"start": "2025-06-01T02:00:00", "end": "2025-06-01T00:00:00+00:00"}),
     ["campaigns[1].schedule.end: must be after schedule.start"]),
    ("bad start", lambda d: d["campaigns"][1].update(schedule={"start": "June 1st"}),
     ["campaigns[1].schedule.start: must be an ISO 8601 date-time like 2025-06-01T00:00:00, "
      "got 'June 1st'"]),
    ("301 without opt-in", lambda d: d["campaigns"][0].update(redirect_mode=301),
     ["campaigns[0].redirect_mode: 301 is cached by browsers, so repeat clicks would never "
      "reach the tracker; set allow_permanent: true to use it"]),
    ("bad redirect mode", lambda d: d["campaigns"][0].update(redirect_mode="303"),
     ["campaigns[0].redirect_mode: must be one of 302, 307, 301, meta, double_meta, got '303'"]),
    ("bad status", lambda d: d["campaigns"][0].update(status="live"),
     ["campaigns[0].status: must be one of draft, active, paused, completed, cancelled, "
      "got 'live'"]),
    ("bot url missing", lambda d: d["campaigns"][0].update(bot_policy={"action": "url"}),
     ["campaigns[0].bot_policy.url: required when action is url"]),
    ("inactive url unused", lambda d: d["campaigns"][1].update(
        inactive={"action": "not_found", "url": "https://www.example.com/"}),
     ["campaigns[1].inactive.url: only used when action is url"]),
    ("bad windows", lambda d: d["campaigns"][0].update(attribution_window_days=0,
                                                       unique_window_hours=10_000),
     ["campaigns[0].attribution_window_days: must be between 1 and 90, got 0",
      "campaigns[0].unique_window_hours: must be between 1 and 8760, got 10000"]),
    # cross-workspace references
    ("cross-workspace network", lambda d: (
        _second_workspace(d),
        d["networks"].append({"id": "n2", "workspace": "other", "name": "N2",
                              "secret": "0123456789"}),
        d["offers"][0].update(network="n2")),
     ["offers[0].network: network 'n2' belongs to workspace 'other', not 'acme'"]),
    ("cross-workspace traffic source", lambda d: (_second_workspace(d),
                                                  d["campaigns"][0].update(traffic_source="ts2")),
     ["campaigns[0].traffic_source: traffic source 'ts2' belongs to workspace 'other', "
      "not 'acme'"]),
    # destinations and landers
    ("lander offers count", lambda d: d["campaigns"][1]["default"][1].update(offers=["antivirus"]),
     ["campaigns[1].default[1].offers: lander 'lp-compare' has 2 CTA(s): give 2 offer(s), "
      "got 1"]),
    ("funnel offers count", lambda d: d["funnels"][0].update(offers=["antivirus", "vpn-us"]),
     ["funnels[0].offers: lander 'lp-quiz-result' has 1 CTA(s): give 1 offer(s), got 2"]),
    ("offers on an offer", lambda d: d["campaigns"][1]["rules"][2]["destinations"][0].update(
        offers=["vpn-us"]), ["campaigns[1].rules[2].destinations[0].offers: only used with "
                             "kind lander"]),
    ("url kind without url", lambda d: d["campaigns"][2]["rules"][0]["destinations"][0].pop("url"),
     ["campaigns[2].rules[0].destinations[0].url: required with kind url"]),
    ("offer kind with url", lambda d: d["campaigns"][1]["rules"][2]["destinations"][0].update(
        url="https://x.example.com/"), ["campaigns[1].rules[2].destinations[0].url: not used "
                                        "with kind offer (give ref)"]),
    ("bad destination kind", lambda d: d["campaigns"][1]["rules"][2]["destinations"][0].update(
        kind="page"), ["campaigns[1].rules[2].destinations[0].kind: must be one of offer, "
                       "lander, funnel, url, got 'page'"]),
    # sources, networks, offers
    ("unknown token", lambda d: d["traffic_sources"][0]["tokens"].update(sub11="x"),
     ["traffic_sources[0].tokens.sub11: unknown token (expected sub1..sub10, cost or "
      "external_id)"]),
    ("bad status mapping", lambda d: d["networks"][1]["statuses"].update(ok="paid"),
     ["networks[1].statuses.ok: must be one of approved, pending, declined, chargeback, "
      "got 'paid'"]),
    ("short secret", lambda d: d["networks"][0].update(secret="abc"),
     ["networks[0].secret: must be at least 8 characters"]),
    ("bad allowlist", lambda d: d["networks"][0].update(ip_allowlist=["not-an-ip"]),
     ["networks[0].ip_allowlist[0]: not a CIDR block: 'not-an-ip' does not appear to be an "
      "IPv4 or IPv6 network"]),
    ("fallback without cap", lambda d: [d["offers"][0].pop(cap)
                                        for cap in ("daily_cap", "daily_click_cap")],
     ["offers[0].fallback_offer: only used with a daily_cap or a daily_click_cap"]),
    ("fallback cycle", lambda d: d["offers"][1].update(daily_cap=5, fallback_offer="vpn-us"),
     ["offers[0].fallback_offer: cycle: vpn-us -> vpn-global -> vpn-us",
      "offers[1].fallback_offer: cycle: vpn-global -> vpn-us -> vpn-global"]),
    ("zero cap", lambda d: d["offers"][0].update(daily_cap=0),
     ["offers[0].daily_cap: must be >= 1"]),
    ("empty name", lambda d: d["offers"][0].update(name="  "),
     ["offers[0].name: must not be empty"]),
    ("lander cta count", lambda d: d["landers"][5].update(cta_count=0),
     ["landers[5].cta_count: must be between 1 and 100, got 0"]),
]


@pytest.mark.parametrize(("mutate", "expected"), [(m, e) for _, m, e in CASES],
                         ids=[name for name, _, _ in CASES])
def test_one_mistake_one_problem(mutate, expected):
    assert problems_after(mutate) == expected


def test_301_with_allow_permanent_is_fine():
    assert problems_after(lambda d: d["campaigns"][0].update(redirect_mode=301,
                                                             allow_permanent=True)) == []


def test_every_problem_is_reported_at_once():
    def many(d: Data) -> None:
        for case in CASES[:6]:
            case[1](d)

    found = problems_after(many)
    expected = [p for _, _, problems in CASES[:6] for p in problems]
    assert sorted(found) == sorted(expected)
