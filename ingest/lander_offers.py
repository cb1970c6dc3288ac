"""Conversions on lander traffic: the offer and network of the LP click they follow.

A campaign click sent to a lander or funnel has no offer yet (the visitor picks one on the
lander), so its row has an empty offer and network. A conversion on it takes the offer,
network, default payout and currency of the latest LP click to an offer that continues it at or
before the conversion, as Voluum and Binom credit the offer the visitor clicked through to;
every other dimension (lander, campaign, sub-ids, geo, click time) stays the campaign
click's. Pure: ingest.store looks the LP clicks up, the conversion pipeline holds a
conversion whose LP click is not stored yet (docs/analytics.md, "Lander traffic").
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Final

from turnout.ingest.attribution import ClickRef

LANDER_KINDS: Final = frozenset({"lander", "funnel"})
# What a conversion takes from the LP click; the rest is the campaign click's.
FROM_LP_CLICK: Final = ("offer_id", "network_id")


def went_to_lander(click: ClickRef) -> bool:
    """A campaign click whose offer is only known once the visitor clicks through."""
    return click.kind == "click" and click.dimensions["destination_kind"] in LANDER_KINDS


def through(click: ClickRef, lp_clicks: Sequence[ClickRef], at_ms: int) -> ClickRef:
    """`click` with the offer, network, payout and currency of the newest of `lp_clicks` (its LP
    clicks to an offer, newest first) at or before `at_ms`; `click` itself when none is."""
    for lp_click in lp_clicks:
        if lp_click.ts_ms <= at_ms:
            dimensions = dict(click.dimensions)
            for name in FROM_LP_CLICK:
                dimensions[name] = lp_click.dimensions[name]
            return dataclasses.replace(click, dimensions=dimensions,
                                       offer_payout_micros=lp_click.offer_payout_micros,
                                       offer_currency=lp_click.offer_currency)
    return click
