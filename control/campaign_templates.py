"""Campaign templates: the built-in ones per affiliate method, chosen by the two onboarding
questions, and saved ones; creating the campaign(s) a template describes from a user's picks.

The admin API serves these (`GET /api/v1/templates`, `POST /api/v1/campaigns/from-template`,
`POST /api/v1/campaigns/{id}/save-as-template`); everything here is pure.
"""

from __future__ import annotations

from turnout.config.errors import GraphInvalid, Problem
from turnout.config.model import Graph
from turnout.config.validate import validate
from turnout.control.input_problems import problems
from turnout.control.saved_templates import slots_of, template_from_campaign
from turnout.control.template_build import InstantiatedSetup, build
from turnout.control.template_builtins import TEMPLATES
from turnout.control.template_inputs import (
    LanderPick,
    NewLander,
    NewOffer,
    NewTrafficSource,
    OfferPick,
    SetupInputs,
)
from turnout.control.template_model import PROMOTED, QUESTIONS, WHERE, CampaignTemplate

__all__ = [
    "QUESTIONS",
    "CampaignTemplate",
    "InstantiatedSetup",
    "LanderPick",
    "NewLander",
    "NewOffer",
    "NewTrafficSource",
    "OfferPick",
    "SetupInputs",
    "builtin_templates",
    "check",
    "choose",
    "instantiate",
    "slots_of",
    "template_from_campaign",
]


def builtin_templates() -> tuple[CampaignTemplate, ...]:
    return TEMPLATES


def choose(promoted: str, where: str) -> CampaignTemplate:
    """The one built-in template for the two onboarding answers."""
    found = [Problem(field, f"must be one of {', '.join(allowed)}, got {value!r}")
             for field, value, allowed in (("promoted", promoted, PROMOTED),
                                           ("where", where, WHERE))
             if value not in allowed]
    if found:
        raise GraphInvalid(found)
    return next(t for t in TEMPLATES if (t.promoted, t.where) == (promoted, where))


def instantiate(template: CampaignTemplate, inputs: SetupInputs) -> InstantiatedSetup:
    """The entities `template` builds from `inputs`; GraphInvalid lists every problem of
    the inputs, with its path. Whether the ids they name exist is `check`'s to say."""
    found = problems(template, inputs)
    if found:
        raise GraphInvalid(found)
    return build(template, inputs)


def check(setup: InstantiatedSetup, graph: Graph) -> list[Problem]:
    """Every problem of `graph` with the setup added (paths are the combined graph's).

    Besides graph validation: a campaign whose cost comes from the URL needs a traffic
    source that maps a cost token, or every click would cost 0.
    """
    combined = setup.added_to(graph)
    found = validate(combined)
    sources = {source.id: source for source in combined.traffic_sources}
    first = len(graph.campaigns)
    for i, campaign in enumerate(setup.campaigns, start=first):
        source = sources.get(campaign.traffic_source)
        if (campaign.cost_model.type == "url_param" and source is not None
                and "cost" not in source.tokens):
            found.append(Problem(f"campaigns[{i}].cost_model.type",
                                 f"cost comes from the URL, but traffic source {source.id!r} "
                                 "maps no cost token (tokens.cost): every click would cost 0"))
    return found
