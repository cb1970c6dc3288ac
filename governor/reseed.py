"""Meters restored after Redis lost them (SPEC §10: Redis holds only what edges read).

A flushed or restarted Redis brings every meter back at zero, and the edges would hand
out each budget and click cap again from the start. The governor keeps a marker next to
the meters; when it is gone, the pass seeds the meters of the period in force from what
ClickHouse counted (governor/spend.py): leased budgets (CPC, CPM, URL-param cost) with
their counted cost, daily click caps of campaigns and offers with the day's counted
clicks. `Meters.seed` only raises a meter, never lowers it.

Why only then and not every pass: `seed` raises `spent` as well as `granted`, and a live
meter's `spent` trails the edges (they report spend when they settle a lease), so seeding
it from ClickHouse would count the spend they report later twice and pause early.

Bound after a loss: what edges take between the loss and the next pass (one pass
interval of the service, 2 s by default) may be handed out on top of the counted
spend, plus what was spent but not yet counted (the ingest lag).
"""

from __future__ import annotations

from typing import Final

from turnout.config.meters import SEEDED, Meters, seeded_key
from turnout.governor.spend import Counting, budget_period, is_leased, workspaces
from turnout.governor.tick import Tick

_SEEDING: Final = "seeding"


class ReseedTask:
    """Seeds the meters from counted values whenever Redis lost them."""

    name = "reseed"

    def __init__(self, counting: Counting) -> None:
        self.counting = counting
        self.reseeds = 0  # passes that found the meters lost and seeded them
        self.seeded = 0  # meters seeded

    def metrics(self) -> dict[str, float]:
        return {"meter_reseeds_total": self.reseeds, "meters_seeded_total": self.seeded}

    async def tick(self, tick: Tick) -> None:
        if tick.graph is None:
            return
        marker = seeded_key(tick.prefix)
        found = await tick.redis.get(marker)
        if (found.decode() if isinstance(found, bytes) else found) == SEEDED:
            return
        # Marked first: a loss while seeding removes the mark, so the next pass seeds again.
        await tick.redis.set(marker, _SEEDING)
        counts = await self.counting.of(tick)
        meters = Meters(tick.redis, tick.prefix)
        for workspace in workspaces(tick.graph):
            counted = counts[workspace.id]
            day = counted.day.isoformat()
            seeds: list[tuple[str, int]] = []
            for campaign in workspace.campaigns:
                if campaign.budget is not None and is_leased(campaign):
                    period = budget_period(campaign, counted.day)
                    seeds.append((meters.key("budget", campaign.id, period),
                                  counted.spend.get(campaign.id, 0)))
                if campaign.daily_click_cap is not None:
                    seeds.append((meters.key("campaign_clicks", campaign.id, day),
                                  counted.campaign_clicks.get(campaign.id, 0)))
            seeds += [(meters.key("offer_clicks", offer.id, day),
                       counted.offer_clicks.get(offer.id, 0))
                      for offer in workspace.offers if offer.daily_click_cap is not None]
            for key, units in seeds:
                if units > 0:
                    await meters.seed(key, units)
                    self.seeded += 1
        await tick.redis.set(marker, SEEDED, xx=True)
        self.reseeds += 1


def reseed_task(counting: Counting | None = None) -> ReseedTask:
    return ReseedTask(counting or Counting())
