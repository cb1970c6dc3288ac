"""The built-in templates: one per pair of onboarding answers, each deciding the layout and
explaining it, and whatever a user picks from the example graph builds a valid setup."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.unit.control.picks import EXAMPLE, HOME, SAFE, pages
from turnout import splitter
from turnout.config.compile import compile_graph
from turnout.config.errors import GraphInvalid
from turnout.config.model import TOKENS
from turnout.config.values import PARAM_NAME
from turnout.control.campaign_templates import (
    QUESTIONS,
    CampaignTemplate,
    LanderPick,
    NewLander,
    NewOffer,
    NewTrafficSource,
    OfferPick,
    SetupInputs,
    builtin_templates,
    check,
    choose,
    instantiate,
)
from turnout.control.template_model import (
    PER_PRODUCT,
    PROMOTED,
    SAFE_PAGE,
    SPLIT_BY_PRODUCT,
    WHERE,
    placeholders,
)
from turnout.splitter.types import Visitor

OFFERS = [offer.id for offer in EXAMPLE.offers]
ONE_CTA_LANDERS = [lander.id for lander in EXAMPLE.landers if lander.cta_count == 1]
NETWORKS = [network.id for network in EXAMPLE.networks]
SOURCES_WITH_COST = [s.id for s in EXAMPLE.traffic_sources if "cost" in s.tokens]
MONDAY_10_BERLIN = int(datetime(2025, 6, 2, 8, 0, tzinfo=UTC).timestamp() * 1000)

# The decisions, pinned: changing one is a product decision, not a refactoring.
DECISIONS = {
    # (promoted, where): (layout, lander, redirect, bots, cost model, attribution days)
    ("ecommerce", "own_site"): (PER_PRODUCT, "none", "302", "same", "cpc", 90),
    ("ecommerce", "social"): (PER_PRODUCT, "none", "302", "same", "cpc", 90),
    ("ecommerce", "other"): (PER_PRODUCT, "required", "302", "url", "url_param", 90),
    ("online_offer", "own_site"): (SPLIT_BY_PRODUCT, "none", "302", "same", "cpc", 30),
    ("online_offer", "social"): (SPLIT_BY_PRODUCT, "none", "302", "same", "cpc", 30),
    ("online_offer", "other"): (SPLIT_BY_PRODUCT, "optional", "double_meta", "url",
                                "url_param", 7),
}


def test_six_templates_one_per_pair_of_answers():
    templates = builtin_templates()
    pairs = Counter((t.promoted, t.where) for t in templates)
    assert pairs == Counter({(p, w): 1 for p in PROMOTED for w in WHERE})
    assert len({t.id for t in templates}) == 6
    assert all(t.builtin for t in templates)
    for promoted in PROMOTED:
        for where in WHERE:
            chosen = choose(promoted, where)
            assert (chosen.promoted, chosen.where) == (promoted, where)
            assert chosen in templates


def test_choose_lists_every_bad_answer():
    with pytest.raises(GraphInvalid) as caught:
        choose("crypto", "tv")
    assert [p.path for p in caught.value.problems] == ["promoted", "where"]
    assert "ecommerce, online_offer" in caught.value.problems[0].message
    assert "own_site, social, other" in caught.value.problems[1].message


@pytest.mark.parametrize(("answers", "decided"), DECISIONS.items(), ids=str)
def test_each_template_decides_as_designed(answers, decided):
    t = choose(*answers)
    layout, bots = decided[0], decided[3]
    assert (t.layout, t.lander, t.redirect_mode, t.bot_policy.action, t.cost_model.type,
            t.attribution_window_days) == decided
    # The per-product templates repeat one campaign; the split ones target per product.
    assert (t.product_rule is None) == (layout == PER_PRODUCT)
    assert (SAFE_PAGE in placeholders(t)) == (bots == "url")


@pytest.mark.parametrize("template", builtin_templates(), ids=lambda t: t.id)
def test_explanation_states_the_choice_and_the_road_not_taken(template):
    text = template.explanation
    if template.layout == PER_PRODUCT:
        assert text.startswith("One campaign per product")
        assert "split by product" in text
    else:
        assert "split by offer" in text.split(".")[0]
        assert "campaign per offer" in text
    # The onboarding answers come first, then the modelling question, answered the same way.
    assert [a.question for a in template.questions[:3]] == [
        QUESTIONS[0].text, QUESTIONS[1].text,
        "One campaign per product, or one campaign split by product?"]
    layout_answer = template.questions[2].answer
    assert layout_answer.startswith("One campaign per product" if template.layout == PER_PRODUCT
                                    else "One campaign")
    assert ("split by offer" in layout_answer) == (template.layout == SPLIT_BY_PRODUCT)
    assert len({a.question for a in template.questions}) == len(template.questions)


@pytest.mark.parametrize("template", builtin_templates(), ids=lambda t: t.id)
def test_token_mappings_fit_the_source(template):
    assert set(template.tokens) <= set(TOKENS)
    assert all(PARAM_NAME.fullmatch(param) for param in template.tokens.values())
    assert len(set(template.tokens.values())) == len(template.tokens)
    if template.where == "other":
        # Paid traffic: the click's cost and the source's click id (for its postback).
        assert {"cost", "external_id", "sub1"} <= set(template.tokens)
    else:
        assert "cost" not in template.tokens
        assert template.tokens["sub1"] == "post"


@pytest.mark.parametrize("template", builtin_templates(), ids=lambda t: t.id)
def test_templates_survive_json(template):
    # The API lists them as JSON and stores saved ones the same way.
    assert msgspec.json.decode(msgspec.json.encode(template), type=CampaignTemplate) == template


def test_the_api_types_have_json_schemas():
    # The admin API's OpenAPI document is generated from these types.
    (inputs, template), components = msgspec.json.schema_components((SetupInputs,
                                                                     CampaignTemplate))
    assert inputs == {"$ref": "#/$defs/SetupInputs"}
    assert template == {"$ref": "#/$defs/CampaignTemplate"}
    assert components["SetupInputs"]["required"] == ["workspace", "campaign_id", "name", "code"]
    assert components["OfferPick"]["additionalProperties"] is False
    assert set(components["CampaignTemplate"]["properties"]) >= {
        "promoted", "where", "layout", "explanation", "tokens", "rules", "default"}


# -- whatever the user picks builds a valid setup -------------------------------------


@st.composite
def inputs_for(draw: st.DrawFn, template: CampaignTemplate) -> SetupInputs:
    existing = draw(st.lists(st.sampled_from(OFFERS), unique=True, max_size=3))
    new_count = draw(st.integers(0 if existing else 1, 2))
    picks: list[OfferPick] = [OfferPick(id=offer) for offer in existing]
    picks += [OfferPick(new=NewOffer(
        id=f"new-offer-{n}", name=f"New offer {n}", network=draw(st.sampled_from(NETWORKS)),
        url=f"https://shop.example.com/p{n}?tag=me-20&sub={{clickid}}",
        payout=draw(st.sampled_from(["0", "1.5", "12.50"]))))
        for n in range(new_count)]
    picks = draw(st.permutations(picks))
    split = template.layout == SPLIT_BY_PRODUCT
    built = []
    for n, pick in enumerate(picks):
        lander = None
        if template.lander == "required" or (template.lander == "optional"
                                             and draw(st.booleans())):
            lander = (LanderPick(id=draw(st.sampled_from(ONE_CTA_LANDERS))) if draw(st.booleans())
                      else LanderPick(new=NewLander(
                          id=f"new-lander-{n}", name=f"Review {n}",
                          url=f"https://lp.example.com/r{n}?cid={{lp_cid}}")))
        targeting = {}
        if split and draw(st.booleans()):
            targeting = {
                "countries": tuple(draw(st.lists(st.sampled_from(["US", "DE", "GB", "EU", "BR"]),
                                                 unique=True, max_size=2))),
                "devices": tuple(draw(st.lists(st.sampled_from(["desktop", "mobile", "tablet"]),
                                               unique=True, max_size=2))),
                "os": tuple(draw(st.lists(st.sampled_from(["iOS", "Android", "Windows"]),
                                          unique=True, max_size=2))),
            }
        built.append(msgspec.structs.replace(pick, lander=lander, **targeting))
    if split:
        if all(pick.targeted for pick in built):
            built[-1] = msgspec.structs.replace(built[-1], countries=(), devices=(), os=())
        weights = [draw(st.one_of(st.none(), st.integers(0, 5))) for _ in built]
        built = [msgspec.structs.replace(p, weight=None if p.targeted else w)
                 for p, w in zip(built, weights, strict=True)]
        if all(p.weight == 0 for p in built if not p.targeted):
            built = [p if p.targeted else msgspec.structs.replace(p, weight=1) for p in built]
    paid = template.cost_model.type == "url_param"
    sources = SOURCES_WITH_COST if paid else [s.id for s in EXAMPLE.traffic_sources]
    source = draw(st.one_of(st.sampled_from(sources).map(lambda s: {"traffic_source": s}),
                            st.just({"new_traffic_source": NewTrafficSource(
                                id="new-source", name="My source")})))
    return SetupInputs(workspace="acme", campaign_id="tpl", code="TPL",
                       name=draw(st.text(min_size=1, max_size=20).filter(str.strip)),
                       offers=tuple(built), **source, **pages(template))


def lands_on(destination) -> tuple[str | None, str]:
    """(lander, offer) of a destination that leads to one offer."""
    if destination.kind == "lander":
        (offer,) = destination.offers
        return destination.ref, offer
    assert destination.kind == "offer"
    return None, destination.ref


def picked(pick) -> str:
    return pick.id if pick.new is None else pick.new.id


@pytest.mark.parametrize("template", builtin_templates(), ids=lambda t: t.id)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_any_picks_from_the_example_graph_validate(template, data):
    inputs = data.draw(inputs_for(template))
    setup = instantiate(template, inputs)
    assert check(setup, EXAMPLE) == []

    keys = [picked(pick) for pick in inputs.offers]
    want = {key: ((picked(p.lander) if p.lander else None), key)
            for key, p in zip(keys, inputs.offers, strict=True)}
    if template.layout == PER_PRODUCT:
        assert [c.id for c in setup.campaigns] == [f"tpl-{key}" for key in keys]
        assert [c.code for c in setup.campaigns] == [f"TPL_{key}" for key in keys]
        assert [c.name for c in setup.campaigns] == [
            f"{inputs.name} / {p.new.name if p.new else p.id}" for p in inputs.offers]
        for key, campaign in zip(keys, setup.campaigns, strict=True):
            assert campaign.rules == ()
            (only,) = campaign.default
            assert lands_on(only) == want[key]
    else:
        (campaign,) = setup.campaigns
        assert (campaign.id, campaign.code, campaign.name) == ("tpl", "TPL", inputs.name)
        targeted = [p for p in inputs.offers if p.targeted]
        assert [r.id for r in campaign.rules] == [picked(p) for p in targeted]
        for rule, pick in zip(campaign.rules, targeted, strict=True):
            assert {c.kind: c.values for c in rule.conditions} == {
                kind: values for kind, values in (("country", pick.countries),
                                                  ("device", pick.devices), ("os", pick.os))
                if values}
            (only,) = rule.destinations
            assert lands_on(only) == want[picked(pick)]
        rest = [p for p in inputs.offers if not p.targeted]
        assert [(d.id, d.weight) for d in campaign.default] == [
            (picked(p), 1 if p.weight is None else p.weight) for p in rest]
        assert [lands_on(d) for d in campaign.default] == [want[picked(p)] for p in rest]
    for campaign in setup.campaigns:
        assert campaign.status == "draft"
        assert campaign.workspace == "acme"
        assert campaign.traffic_source == (inputs.traffic_source or "new-source")
        assert (campaign.cost_model, campaign.redirect_mode, campaign.attribution_window_days,
                campaign.bot_policy.action) == (template.cost_model, template.redirect_mode,
                                                template.attribution_window_days,
                                                template.bot_policy.action)
    assert [o.id for o in setup.offers] == [p.new.id for p in inputs.offers if p.new]
    assert sorted(lander.id for lander in setup.landers) == sorted(
        p.lander.new.id for p in inputs.offers if p.lander and p.lander.new)
    assert [s.tokens for s in setup.traffic_sources] == (
        [template.tokens] if inputs.new_traffic_source else [])


def test_split_rules_route_each_visitor_to_the_offer_that_pays_for_them():
    # The social-offer case: app installs per phone platform, a worldwide offer for the rest.
    template = choose("online_offer", "social")
    inputs = SetupInputs(
        workspace="acme", campaign_id="bio", name="Bio link", code="BIO",
        traffic_source="social-ads", inactive_page=HOME, offers=(
            OfferPick(id="cleaner-app", os=("iOS",)),
            OfferPick(id="antivirus", os=("Android",), countries=("DE",)),
            OfferPick(id="vpn-global", weight=3),
            OfferPick(id="vpn-us"),
        ))
    setup = instantiate(template, inputs)
    graph = setup.added_to(EXAMPLE)
    compiled = compile_graph(graph, 1)
    table = compiled.campaigns_by_code["BIO"].table

    def offers_for(**visitor: str) -> Counter[str]:
        seen: Counter[str] = Counter()
        for i in range(2000):
            choice = splitter.decide(table, Visitor(visitor_id=f"v{i}", **visitor),
                                     MONDAY_10_BERLIN)
            assert choice is not None
            seen[choice.destination.payload.offer_id] += 1
        return seen

    assert offers_for(os="iOS", country="BR") == {"cleaner-app": 2000}
    assert offers_for(os="Android", country="DE") == {"antivirus": 2000}
    rest = offers_for(os="Android", country="FR")
    assert set(rest) == {"vpn-global", "vpn-us"}
    assert 0.70 < rest["vpn-global"] / 2000 < 0.80  # weights 3:1


def test_a_bio_link_that_is_paused_keeps_its_visitors():
    template = choose("ecommerce", "social")
    inputs = SetupInputs(workspace="acme", campaign_id="bio", name="Bio", code="BIO",
                         traffic_source="social-ads", inactive_page=HOME,
                         offers=(OfferPick(id="vpn-us"),))
    (campaign,) = instantiate(template, inputs).campaigns
    assert (campaign.inactive.action, campaign.inactive.url) == ("url", HOME)
    assert (campaign.bot_policy.action, campaign.bot_policy.url) == ("same", None)


def test_paid_templates_send_bots_to_the_safe_page():
    template = choose("online_offer", "other")
    inputs = SetupInputs(workspace="acme", campaign_id="push", name="Push", code="PUSH",
                         traffic_source="push-net", safe_page=SAFE,
                         offers=(OfferPick(id="vpn-us"),))
    (campaign,) = instantiate(template, inputs).campaigns
    assert (campaign.bot_policy.action, campaign.bot_policy.url) == ("url", SAFE)
    assert campaign.inactive.action == "not_found"
    # No lander given where it is optional: straight to the offer.
    assert [(d.kind, d.ref, d.offers) for d in campaign.default] == [("offer", "vpn-us", ())]


def test_check_finds_what_only_the_graph_knows():
    paid = choose("online_offer", "other")
    inputs = SetupInputs(workspace="acme", campaign_id="push", name="Push", code="PUSH",
                         traffic_source="social-ads", safe_page=SAFE,
                         offers=(OfferPick(id="no-such-offer"),))
    found = [str(p) for p in check(instantiate(paid, inputs), EXAMPLE)]
    here = f"campaigns[{len(EXAMPLE.campaigns)}]"
    assert found == [
        f"{here}.default[0].ref: unknown offer 'no-such-offer'",
        f"{here}.cost_model.type: cost comes from the URL, but traffic source 'social-ads' "
        "maps no cost token (tokens.cost): every click would cost 0",
    ]
    # A source created from the template maps the cost token: nothing to say.
    fixed = msgspec.structs.replace(inputs, traffic_source=None, offers=(OfferPick(id="vpn-us"),),
                                    new_traffic_source=NewTrafficSource(id="pn2", name="Push 2"))
    assert check(instantiate(paid, fixed), EXAMPLE) == []
