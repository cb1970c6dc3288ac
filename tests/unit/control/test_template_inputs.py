"""Bad inputs: every problem at once, each with the path of the input field it is about."""

from __future__ import annotations

import msgspec
import pytest

from tests.unit.control.picks import EXAMPLE, HOME, pages
from turnout.config.errors import GraphInvalid
from turnout.control.campaign_templates import (
    LanderPick,
    NewLander,
    NewOffer,
    NewTrafficSource,
    OfferPick,
    SetupInputs,
    choose,
    instantiate,
    template_from_campaign,
)

BASE = SetupInputs(workspace="acme", campaign_id="tpl", name="T", code="TPL",
                   traffic_source="push-net", offers=(OfferPick(id="vpn-us"),))


def problems(template, inputs) -> list[tuple[str, str]]:
    with pytest.raises(GraphInvalid) as caught:
        instantiate(template, inputs)
    found = [(p.path, p.message) for p in caught.value.problems]
    assert str(caught.value).startswith(f"{len(found)} problem(s): ")
    return found


def paths(template, inputs) -> list[str]:
    return [path for path, _ in problems(template, inputs)]


def test_every_problem_is_listed_with_its_path():
    template = choose("online_offer", "other")  # split, optional lander, bots to a safe page
    inputs = SetupInputs(
        workspace="acme ws", campaign_id="", name="  ", code="TPL",
        traffic_source="push-net", new_traffic_source=NewTrafficSource(id="x", name="X"),
        offers=(
            OfferPick(),
            OfferPick(new=NewOffer(id="bad id", name="", url="ftp://x", network="alpha net",
                                   payout="-1", currency="XXX")),
            OfferPick(id="vpn-us", countries=("ZZ",), devices=("phone",), weight=3),
            OfferPick(id="vpn-us"),
            OfferPick(id="antivirus", weight=-1,
                      lander=LanderPick(id="lp-usa", new=NewLander(id="l", name="L",
                                                                   url="https://l.example"))),
        ),
        landers=(LanderPick(id="lp-usa"),),
        funnels=("quiz-funnel",),
        inactive_page=HOME,
    )
    found = dict(problems(template, inputs))
    assert sorted(found) == [
        "campaign_id", "funnels", "inactive_page", "landers", "name",
        "offers[0]",
        "offers[1].new.currency", "offers[1].new.id", "offers[1].new.name",
        "offers[1].new.network", "offers[1].new.payout", "offers[1].new.url",
        "offers[2].countries", "offers[2].devices", "offers[2].weight",
        "offers[3]",
        "offers[4].lander", "offers[4].weight",
        "safe_page", "traffic_source", "workspace",
    ]
    assert found["workspace"] == "must match [A-Za-z0-9_-]{1,64}, got 'acme ws'"
    assert found["traffic_source"] == (
        "give either traffic_source or new_traffic_source (not both): the id of an existing "
        "traffic source, or a new one to create")
    assert found["offers[0]"] == ("give either id or new (neither was given): the id of an "
                                  "existing offer, or a new one to create")
    assert found["offers[1].new.url"] == "must be an absolute http(s) URL"
    assert found["offers[1].new.payout"] == "must be >= 0"
    assert found["offers[1].new.currency"] == "unknown ISO 4217 currency 'XXX'"
    assert found["offers[2].countries"] == "unknown country code or group 'ZZ'"
    assert "phone" in found["offers[2].devices"]
    assert found["offers[2].weight"].startswith("not used: a targeted offer")
    assert found["offers[3]"] == "offer 'vpn-us' is already a product (offers[2])"
    assert found["offers[4].weight"] == "must be >= 0"
    assert found["safe_page"] == "required: this template sends bots to a safe page"
    assert found["inactive_page"].startswith("not used")
    assert found["landers"].startswith("this template has 0 lander slot(s)")


@pytest.mark.parametrize(("answers", "change", "path", "message"), [
    # per-product templates: nothing to target or weigh between offers
    (("ecommerce", "own_site"), {"offers": (OfferPick(id="vpn-us", countries=("US",)),)},
     "offers[0].countries", "not used: in this template every offer has a campaign"),
    (("ecommerce", "own_site"), {"offers": (OfferPick(id="vpn-us", weight=2),)},
     "offers[0].weight", "not used: in this template every offer has a campaign"),
    (("ecommerce", "own_site"), {"offers": (OfferPick(id="vpn-us",
                                                      lander=LanderPick(id="lp-usa")),)},
     "offers[0].lander", "not used: this template sends visitors straight to the offer"),
    (("ecommerce", "other"), {},
     "offers[0].lander", "required: this template puts a lander in front of every offer"),
    (("ecommerce", "own_site"), {"offers": ()}, "offers", "give at least one offer"),
    (("ecommerce", "own_site"), {"campaign_id": "c" * 60},
     "offers[0]", "its campaign's campaign_id 'cccc"),
    (("ecommerce", "own_site"), {"inactive_page": "https://{country}.example.com/"},
     "inactive_page", "scheme and host must be literal"),
    # split templates: someone has to take the visitors no rule matches
    (("online_offer", "own_site"), {"offers": (OfferPick(id="vpn-us", countries=("US",)),)},
     "offers", "give at least one offer without countries, devices or os"),
    (("online_offer", "own_site"), {"offers": (OfferPick(id="vpn-us", weight=0),)},
     "offers", "the offers without targeting all have weight 0"),
    (("online_offer", "own_site"), {"offers": (OfferPick(id="default", countries=("US",)),
                                               OfferPick(id="vpn-us"))},
     "offers[0]", "an offer with id 'default' cannot be targeted"),
    # sources
    (("ecommerce", "own_site"), {"traffic_source": None},
     "traffic_source", "give either traffic_source or new_traffic_source (neither"),
    (("ecommerce", "own_site"), {"traffic_source": None,
                                 "new_traffic_source": NewTrafficSource(
                                     id="blog", name="Blog",
                                     postback_url="https://pb.example.com/?x={nope}")},
     "new_traffic_source.postback_url", "unknown macro {nope}"),
    # new entities defined twice
    (("ecommerce", "own_site"), {"offers": tuple(
        OfferPick(new=NewOffer(id="dup", name="D", url="https://d.example.com/",
                               network="alpha-net")) for _ in range(2))},
     "offers[1].new.id", "new offer 'dup' is already defined at offers[0].new"),
])
def test_one_mistake_one_problem(answers, change, path, message):
    template = choose(*answers)
    inputs = msgspec.structs.replace(BASE, **{**pages(template), **change})
    (found,) = problems(template, inputs)
    assert found[0] == path
    assert found[1].startswith(message), found


def test_saved_templates_want_their_slots_filled_in_order():
    camp_a = next(c for c in EXAMPLE.campaigns if c.id == "camp-a")
    template = template_from_campaign(camp_a, "Geo split")  # 3 offers, 3 landers, no funnels
    inputs = SetupInputs(workspace="acme", campaign_id="x", name="X", code="X",
                         traffic_source="push-net",
                         offers=(OfferPick(id="vpn-us", countries=("US",)),),
                         landers=(LanderPick(id="lp-b"),), funnels=("quiz-funnel",))
    found = dict(problems(template, inputs))
    assert sorted(found) == ["funnels", "landers", "offers", "offers[0]"]
    assert found["offers"] == ("this template has 3 offer slot(s): give exactly 3 offer(s) "
                               "in order, got 1")
    assert found["landers"].startswith("this template has 3 lander slot(s)")
    assert found["funnels"].startswith("this template has 0 funnel slot(s)")
    assert found["offers[0]"].startswith("fills offer slot 1: lander, countries")
