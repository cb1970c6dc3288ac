from __future__ import annotations

from collections import Counter

from turnout.simulate import profiles
from turnout.simulate.money import amount_micros
from turnout.simulate.plan import UNKNOWN_CODE, Mix, build_plan, live_campaigns

NOW = 1_767_000_000_000  # a Tuesday in January 2026, inside every example schedule


def test_same_seed_same_plan(graph):
    assert build_plan(graph, 500, 7, NOW) == build_plan(graph, 500, 7, NOW)
    assert build_plan(graph, 500, 7, NOW) != build_plan(graph, 500, 8, NOW)


def test_exactly_the_clicks_asked_for(graph):
    for clicks in (1, 17, 1000):
        plan = build_plan(graph, clicks, 1, NOW)
        gets = sum(1 for v in plan for s in v.steps if s.method == "GET" and s.campaign_id)
        assert gets == clicks


def test_the_mix(graph):
    plan = build_plan(graph, 5000, 3, NOW)
    kinds = Counter(v.bot or "person" for v in plan)
    assert kinds["prefetch"] > 0 and kinds["person"] > 0.8 * len(plan)
    bots = {ua for ua, _ in profiles.BOT_AGENTS}
    assert bots == {v.user_agent for v in plan if v.bot and v.bot != "prefetch"}
    for visitor in plan:
        assert profiles.COUNTRY_IPS[visitor.country] == visitor.ip
        if visitor.bot and visitor.bot != "prefetch":
            assert visitor.device == "desktop" and not visitor.keeps_cookies
        if visitor.bot == "prefetch":
            assert visitor.headers and not visitor.keeps_cookies
    repeat = [v for v in plan if v.clicks > 1]
    assert repeat and all(v.keeps_cookies for v in repeat if not v.bot)
    methods = Counter(s.method for v in plan for s in v.steps)
    assert methods["HEAD"] > 0
    assert any(s.code == UNKNOWN_CODE for v in plan for s in v.steps)
    assert {s.campaign_id for v in plan for s in v.steps if s.campaign_id} == {
        c.id for c in live_campaigns(graph, NOW)}


def test_cost_follows_the_campaign_model(graph):
    plan = build_plan(graph, 3000, 5, NOW)
    costs: dict[str, set[int]] = {}
    for visitor in plan:
        for step in visitor.steps:
            if not step.campaign_id:
                continue
            costs.setdefault(step.campaign_id, set()).add(step.cost_micros)
            if step.campaign_id == "camp-a":  # url_param: the source's `bid` token
                bid = dict(step.params).get("bid")
                assert step.cost_micros == ((amount_micros(bid) or 0) if bid else 0)
    assert costs["summer"] == {45_000}  # cpc 0.045
    assert costs["summer-stories"] == {2_100}  # cpm 2.10 per thousand
    assert len(costs["camp-a"]) > 100 and 0 in costs["camp-a"]
    # The query condition of summer-stories gets its value now and then.
    stories = [s.params for v in plan for s in v.steps if s.campaign_id == "summer-stories"]
    assert 0 < sum(("utm_content", "story-b") in p for p in stories) < len(stories)


def test_no_follow_ups_when_the_mix_says_so(graph):
    plan = build_plan(graph, 1000, 2, NOW, Mix(lp_click=0.0, hop=0.0, head=0.0))
    steps = [s for v in plan for s in v.steps]
    assert not any(s.lp_clicks or s.follow_hop or s.method == "HEAD" for s in steps)
