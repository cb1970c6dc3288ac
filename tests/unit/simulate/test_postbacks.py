from __future__ import annotations

import random
from collections import Counter

from hypothesis import given
from hypothesis import strategies as st

from turnout import clickid
from turnout.edge.postback import signature
from turnout.simulate.postbacks import REJECTS, SCENARIOS, Planner, plan_postbacks, sign

NOW = 1_767_000_000_000
IDS = clickid.ClickIds(seed=b"postback-tests")


@given(st.dictionaries(st.text(min_size=1, max_size=8), st.text(max_size=12), max_size=6))
def test_signature_is_the_edges(params):
    assert sign("beta-hmac-signing-key-02", params) == signature("beta-hmac-signing-key-02",
                                                                 params)


def test_chains_name_the_network_and_keep_order(graph):
    planner = Planner(graph, random.Random(1), NOW)
    click = IDS.new(NOW)
    for scenario, statuses in SCENARIOS.items():
        chain = planner.chain(click, "acme", scenario)
        assert [p.status for p in chain] == list(statuses)
        assert len({p.txid for p in chain}) == 1 and all(p.accept for p in chain)
        params = dict(chain[0].params)
        assert params["clickid"] == click and params["txid"] == chain[0].txid
        network = graph.networks_by_id[params.get("network") or next(
            n.id for n in graph.networks_by_id.values() if n.secret == params["secret"])]
        assert network.statuses[params["status"]] == statuses[0]
        if network.ip_allowlist:  # alpha-net only takes postbacks from 198.51.100.0/24
            assert chain[0].ip.startswith("198.51.100.")
        if scenario == "duplicate":
            assert chain[0].params == chain[1].params


def test_plan_size_and_mix(graph):
    people = [(IDS.new(NOW), "acme") for _ in range(300)]
    bots = [(IDS.new(NOW), "acme") for _ in range(10)]
    chains = plan_postbacks(graph, people, bots, 1000, 9, NOW)
    assert chains == plan_postbacks(graph, people, bots, 1000, 9, NOW)
    sent = [p for chain in chains for p in chain]
    assert 1000 <= len(sent) <= 1003
    cases = Counter(p.case for p in sent)
    assert set(REJECTS) <= set(cases) and cases["orphan"] == 10
    assert {c for c in cases if c in SCENARIOS} == set(SCENARIOS)
    bot_ids = {c for c, _ in bots}
    assert 0 < sum(p.click_id in bot_ids for p in sent) <= 10
    for postback in sent:
        if postback.case == "unknown_secret":
            assert postback.status_code == 403
        if not postback.accept:
            assert not postback.status


def test_reject_requests_are_what_they_say(graph):
    planner = Planner(graph, random.Random(2), NOW)
    some = IDS.new(NOW)
    future = dict(planner.reject("future", some).params)["clickid"]
    assert clickid.timestamp_ms(future) > NOW + 86_400_000
    old = dict(planner.reject("too_old", some).params)["clickid"]
    assert clickid.timestamp_ms(old) < NOW - 100 * 86_400_000
    outside = planner.reject("address_not_allowed", some)
    assert outside.ip == "192.0.2.77" and outside.status_code == 403
    assert "secret" not in dict(planner.reject("no_auth", some).params)
    assert dict(planner.reject("bad_signature", some).params)["network"] == "beta-net"


def test_postbacks_pay_in_the_currency_of_the_clicks_offer(graph):
    """A click on vpn-us (USD in the EUR example workspace): its postbacks name USD or no
    currency (ingest then takes the offer's), and say USD is what ingest will count. With
    no offer reached, the workspace currency is always named (unnamed, ingest would take
    the lander's first CTA offer's)."""
    people = [(IDS.new(NOW), "acme") for _ in range(60)]
    usd = {c for c, _ in people[:30]}
    chains = plan_postbacks(graph, people, [], 300, 5, NOW, {c: "alpha-net" for c in usd},
                            {c: "USD" for c in usd})
    named: Counter[tuple[bool, str | None]] = Counter()
    for postback in (p for chain in chains for p in chain if p.accept and p.case != "orphan"):
        sent = dict(postback.params).get("currency")
        offer = postback.click_id in usd
        assert postback.currency == ("USD" if offer else "EUR")
        assert sent in (("USD", None) if offer else ("EUR",))
        named[(offer, sent)] += 1
    assert named[(True, "USD")] and named[(True, None)] and named[(False, "EUR")]
