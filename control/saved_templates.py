"""Saving a campaign as a template: its structure kept, its references made slots."""

from __future__ import annotations

import msgspec

from turnout.config.model import Campaign, Destination, TrafficSource
from turnout.control.template_model import SLOT_KINDS, SPLIT_BY_PRODUCT, CampaignTemplate, slot


def slots_of(campaign: Campaign) -> dict[str, tuple[str, ...]]:
    """The offers, landers and funnels the campaign uses, in the order of their first use
    (rules in order, then the default path): the order of a saved template's slots."""
    used: dict[str, dict[str, None]] = {kind: {} for kind in SLOT_KINDS}
    for d in (*(d for rule in campaign.rules for d in rule.destinations), *campaign.default):
        if d.kind in used and d.ref is not None:
            used[d.kind][d.ref] = None
        for offer in d.offers:
            used["offer"][offer] = None
    return {kind: tuple(ids) for kind, ids in used.items()}


def template_from_campaign(campaign: Campaign, name: str, *, template_id: str | None = None,
                           traffic_source: TrafficSource | None = None) -> CampaignTemplate:
    """A campaign saved as a template: its rules, weights and policies as they are; its
    offers, landers and funnels become numbered slots; id, code, name, parent, traffic
    source, status, schedule and budget are the new campaign's own and are not kept.
    `traffic_source` (the campaign's) gives the token mapping of a source created from it."""
    used = slots_of(campaign)
    to_slot = {(kind, ref): slot(kind, n) for kind, refs in used.items()
               for n, ref in enumerate(refs, start=1)}

    def strip(d: Destination) -> Destination:
        ref = to_slot[d.kind, d.ref] if d.kind in SLOT_KINDS and d.ref is not None else d.ref
        return msgspec.structs.replace(d, ref=ref, offers=tuple(to_slot["offer", o]
                                                                for o in d.offers))

    counts = {kind: len(refs) for kind, refs in used.items()}
    return CampaignTemplate(
        id=template_id or f"saved-{campaign.id}",
        name=name,
        promoted=None,
        where=None,
        layout=SPLIT_BY_PRODUCT,
        explanation=(
            f"Saved from campaign {campaign.name!r}: one campaign with its "
            f"{len(campaign.rules)} rule(s) and default path as they were (conditions, "
            f"weights, policies). Creating from it fills {counts['offer']} offer slot(s), "
            f"{counts['lander']} lander slot(s) and {counts['funnel']} funnel slot(s) with "
            "your picks, in the order the campaign used them."),
        tokens=dict(traffic_source.tokens) if traffic_source is not None else {},
        cost_model=campaign.cost_model,
        redirect_mode=str(campaign.redirect_mode),
        allow_permanent=campaign.allow_permanent,
        bot_policy=campaign.bot_policy,
        inactive=campaign.inactive,
        attribution_window_days=campaign.attribution_window_days,
        unique_window_hours=campaign.unique_window_hours,
        lander="required" if counts["lander"] else "none",
        rules=tuple(msgspec.structs.replace(rule, destinations=tuple(map(strip,
                                                                         rule.destinations)))
                    for rule in campaign.rules),
        default=tuple(map(strip, campaign.default)),
    )
