"""Save a campaign as a template, create from it with the same picks: the same campaign."""

from __future__ import annotations

import msgspec
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from tests.unit.control.picks import EXAMPLE
from turnout.config.model import Campaign, Condition, Destination, Rule, Schedule
from turnout.config.validate import validate
from turnout.control.campaign_templates import (
    CampaignTemplate,
    LanderPick,
    NewLander,
    OfferPick,
    SetupInputs,
    check,
    choose,
    instantiate,
    slots_of,
    template_from_campaign,
)
from turnout.control.template_model import SPLIT_BY_PRODUCT

SOURCES = {source.id: source for source in EXAMPLE.traffic_sources}
LANDERS = {lander.id: lander for lander in EXAMPLE.landers}
OFFERS = [offer.id for offer in EXAMPLE.offers]
FUNNELS = [funnel.id for funnel in EXAMPLE.funnels]


def same_picks(campaign: Campaign) -> SetupInputs:
    """Inputs that fill a template saved from `campaign` with what it used."""
    used = slots_of(campaign)
    return SetupInputs(
        workspace=campaign.workspace, campaign_id=campaign.id, name=campaign.name,
        code=campaign.code, parent=campaign.parent, traffic_source=campaign.traffic_source,
        offers=tuple(OfferPick(id=offer) for offer in used["offer"]),
        landers=tuple(LanderPick(id=lander) for lander in used["lander"]),
        funnels=used["funnel"])


def as_created(campaign: Campaign) -> Campaign:
    """What a template keeps of a campaign: everything but its state (a new campaign is a
    draft without schedule or budget)."""
    return msgspec.structs.replace(campaign, status="draft", schedule=Schedule(), budget=None,
                                   redirect_mode=str(campaign.redirect_mode))


def round_trip(campaign: Campaign) -> Campaign:
    template = template_from_campaign(campaign, "Saved",
                                      traffic_source=SOURCES[campaign.traffic_source])
    # Stored as JSON by the API, read back before use.
    template = msgspec.json.decode(msgspec.json.encode(template), type=CampaignTemplate)
    setup = instantiate(template, same_picks(campaign))
    assert (setup.offers, setup.landers, setup.traffic_sources) == ((), (), ())
    (created,) = setup.campaigns
    return created


@pytest.mark.parametrize("campaign", EXAMPLE.campaigns, ids=lambda c: c.id)
def test_saving_the_example_campaigns_and_creating_them_again(campaign):
    assert round_trip(campaign) == as_created(campaign)


def test_a_saved_template_keeps_structure_and_strips_every_reference():
    summer = next(c for c in EXAMPLE.campaigns if c.id == "summer")
    template = template_from_campaign(summer, "Social split", template_id="social-split",
                                      traffic_source=SOURCES["social-ads"])
    assert (template.id, template.name, template.layout) == ("social-split", "Social split",
                                                             SPLIT_BY_PRODUCT)
    assert (template.promoted, template.where, template.builtin) == (None, None, False)
    assert template.tokens == SOURCES["social-ads"].tokens
    assert slots_of(summer) == {"offer": ("antivirus", "vpn-us", "cleaner-app", "vpn-global"),
                                "lander": ("lp-compare",), "funnel": ("quiz-funnel",)}
    encoded = msgspec.json.encode(template).decode()
    for used in (summer.id, summer.code, summer.traffic_source, *OFFERS, *LANDERS, *FUNNELS):
        assert f'"{used}"' not in encoded
    destinations = [d for rule in template.rules for d in rule.destinations] + list(
        template.default)
    assert {d.ref for d in destinations} == {"{lander:1}", "{offer:1}", "{offer:3}",
                                             "{funnel:1}"}
    assert [r.conditions for r in template.rules] == [r.conditions for r in summer.rules]
    assert [[d.weight for d in r.destinations] for r in template.rules] == [
        [d.weight for d in r.destinations] for r in summer.rules]
    assert "4 offer slot(s), 1 lander slot(s) and 1 funnel slot(s)" in template.explanation


def test_a_saved_template_with_other_picks_builds_a_valid_campaign():
    camp_a = next(c for c in EXAMPLE.campaigns if c.id == "camp-a")
    template = template_from_campaign(camp_a, "Geo split",
                                      traffic_source=SOURCES["push-net"])
    inputs = SetupInputs(
        workspace="acme", campaign_id="camp-b", name="Campaign B", code="CAMP_B",
        parent="camp-a", traffic_source="push-net",
        offers=(OfferPick(id="antivirus"), OfferPick(id="cleaner-app"),
                OfferPick(id="vpn-global")),
        landers=(LanderPick(id="lp-quiz"),
                 LanderPick(new=NewLander(id="lp-new", name="New",
                                          url="https://lp.example.com/new?cid={lp_cid}")),
                 LanderPick(id="lp-global")))
    setup = instantiate(template, inputs)
    assert check(setup, EXAMPLE) == []
    (created,) = setup.campaigns
    assert [(d.ref, d.offers) for d in created.rules[0].destinations] == [
        ("lp-quiz", ("antivirus",))]
    assert [(d.ref, d.offers) for d in created.default] == [
        ("lp-new", ("cleaner-app",)), ("lp-global", ("vpn-global",))]
    assert [(lander.id, lander.cta_count) for lander in setup.landers] == [("lp-new", 1)]
    assert created.parent == "camp-a"


def test_a_campaign_built_from_a_builtin_saves_and_recreates():
    template = choose("online_offer", "other")
    inputs = SetupInputs(
        workspace="acme", campaign_id="push", name="Push", code="PUSH", traffic_source="push-net",
        safe_page="https://www.example.com/safe", offers=(
            OfferPick(id="vpn-us", countries=("US",), lander=LanderPick(id="lp-usa")),
            OfferPick(id="dating-ru", countries=("RU",), devices=("mobile",)),
            OfferPick(id="vpn-global", weight=2), OfferPick(id="antivirus")))
    (built,) = instantiate(template, inputs).campaigns
    assert round_trip(built) == built


# -- any campaign over the example graph's entities ----------------------------------

slugs = st.text("abcdefghij-", min_size=1, max_size=8).filter(lambda s: s != "default")


@st.composite
def destinations(draw: st.DrawFn) -> Destination:
    kind = draw(st.sampled_from(["offer", "lander", "funnel", "url"]))
    weight = draw(st.integers(0, 100))
    paused = draw(st.booleans())
    if kind == "offer":
        return Destination(id="x", kind=kind, ref=draw(st.sampled_from(OFFERS)), weight=weight,
                           paused=paused)
    if kind == "funnel":
        return Destination(id="x", kind=kind, ref=draw(st.sampled_from(FUNNELS)),
                           weight=weight, paused=paused)
    if kind == "url":
        return Destination(id="x", kind=kind, url="https://shop.example.com/?c={clickid}",
                           weight=weight, paused=paused)
    lander = draw(st.sampled_from(sorted(LANDERS)))
    offers = tuple(draw(st.lists(st.sampled_from(OFFERS), min_size=LANDERS[lander].cta_count,
                                 max_size=LANDERS[lander].cta_count)))
    return Destination(id="x", kind=kind, ref=lander, offers=offers, weight=weight,
                       paused=paused)


def numbered(items: list[Destination]) -> tuple[Destination, ...]:
    return tuple(msgspec.structs.replace(d, id=f"d{i}") for i, d in enumerate(items))


conditions = st.sampled_from([
    Condition(kind="country", values=("US", "CA")),
    Condition(kind="device", values=("mobile",), negate=True),
    Condition(kind="hour", values=(9, "18-23")),
    Condition(kind="bot", values=(True,)),
    Condition(kind="query", param="utm_content", values=("story-b",)),
])


@st.composite
def campaigns(draw: st.DrawFn) -> Campaign:
    ids = draw(st.lists(slugs, unique=True, max_size=3))
    rules = tuple(
        Rule(id=rule_id, name=draw(st.text(max_size=10)),
             priority=draw(st.one_of(st.none(), st.integers(-3, 3))),
             conditions=tuple(draw(st.lists(conditions, max_size=2))),
             destinations=numbered(draw(st.lists(destinations(), min_size=1, max_size=3))))
        for rule_id in ids)
    default = numbered(draw(st.lists(destinations(), min_size=1, max_size=3)))
    source = draw(st.sampled_from(sorted(SOURCES)))
    return Campaign(
        id="saved", workspace="acme", name="Saved", code="SAVED", traffic_source=source,
        status=draw(st.sampled_from(["draft", "active", "paused"])),
        redirect_mode=draw(st.sampled_from(["302", 302, "307", "meta", "double_meta"])),
        attribution_window_days=draw(st.integers(1, 90)),
        unique_window_hours=draw(st.integers(1, 48)),
        budget=draw(st.sampled_from([None, "100.00"])),
        rules=rules, default=default)


@settings(max_examples=200, deadline=None)
@given(campaigns())
def test_any_valid_campaign_round_trips(campaign):
    graph = msgspec.structs.replace(EXAMPLE, campaigns=(campaign,))
    assume(not validate(graph))  # e.g. a default with every weight 0 is no campaign to save
    assert round_trip(campaign) == as_created(campaign)
