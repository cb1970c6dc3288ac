"""Daily caps (SPEC §11) and the overlay the edges follow (config/overlay.py).

Each pass writes the whole overlay from what is counted now, so a verdict that no longer
holds simply is not written again (overlay.write bumps its seq only on a change):
- conversion caps: an offer's `daily_cap` or a campaign's `daily_conversion_cap` reached
  by the approved conversions of the workspace-local day (governor/spend.py: conversions
  count on their click's day, as the report by date shows them) -> a capped offer (its
  traffic goes to its fallback offer, or the rule falls through) or a blocked campaign,
  reason conversion_cap, until the next local midnight;
- budgets whose spend comes with conversions (CPA, RevShare, fixed total) past their stop
  threshold -> a blocked campaign, reason budget (until midnight for a daily budget), so
  edges stop within a second, before the governor's pause is published. Leased budgets
  need no verdict: their edges stop when the meter hands out nothing more.
Click caps are leased on the edges (config/meters.py); the governor only reports them: a
click meter of the day reading exhausted (or its counted clicks at the cap) is a reached cap.

cap.reached is notified once per cap and day; cap.lifted once, on the first pass of a later
day (the verdict lapses at midnight by itself, even with no governor running).

Conversion cap overshoot bound, with the service's pass interval P
(2 s by default), the ingest lag L and the overlay follow latency F (edges subscribe to the
overlay's channel): the offer stops receiving traffic within T = L + P + F of the
conversion that reached the cap; overshoot <= the approved conversions counted during T,
plus conversions later attributed to clicks the offer received before the cap took effect.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import psycopg

from turnout.config import overlay
from turnout.config.meters import meter_key
from turnout.config.overlay import Verdict
from turnout.control.db import connection
from turnout.governor.budgets import standings
from turnout.governor.claims import claimed_among, days_before
from turnout.governor.days import next_midnight_ms
from turnout.governor.meter_reads import read_meters
from turnout.governor.notify import enqueue
from turnout.governor.once import once
from turnout.governor.spend import Counted, Counting, Workspace, is_leased, workspaces
from turnout.governor.tick import Tick

_LIFT_DAYS: Final = 7  # how far back a reached cap is looked for to announce its lifting


@dataclass(frozen=True, slots=True)
class Reached:
    """A cap reached on a day: `kind` conversion_cap | click_cap, of an offer or campaign."""

    workspace_id: str
    kind: str
    owner: str  # offer | campaign
    owner_id: str
    day: str
    count: int
    cap: int
    until_ms: int

    @property
    def key(self) -> str:
        return f"cap:{self.workspace_id}:{self.kind}:{self.owner}:{self.owner_id}:{self.day}"

    def data(self) -> dict[str, Any]:
        return {"cap": self.kind, f"{self.owner}_id": self.owner_id, "day": self.day,
                "count": self.count, "limit": self.cap, "until_ms": self.until_ms}


def _conversion_caps(workspace: Workspace, counted: Counted, until_ms: int) -> list[Reached]:
    day = counted.day.isoformat()
    found = [Reached(workspace.id, "conversion_cap", "offer", o.id, day,
                     counted.offer_approved.get(o.id, 0), o.daily_cap, until_ms)
             for o in workspace.offers if o.daily_cap is not None]
    found += [Reached(workspace.id, "conversion_cap", "campaign", c.id, day,
                      counted.campaign_approved.get(c.id, 0), c.daily_conversion_cap,
                      until_ms)
              for c in workspace.campaigns if c.daily_conversion_cap is not None]
    return [r for r in found if r.count >= r.cap]


async def _click_caps(tick: Tick, workspace: Workspace, counted: Counted, until_ms: int
                      ) -> list[Reached]:
    day = counted.day.isoformat()
    caps = [("offer", o.id, o.daily_click_cap, counted.offer_clicks)
            for o in workspace.offers if o.daily_click_cap is not None]
    caps += [("campaign", c.id, c.daily_click_cap, counted.campaign_clicks)
             for c in workspace.campaigns if c.daily_click_cap is not None]
    readings = await read_meters(tick.redis, [
        meter_key(tick.prefix, f"{owner}_clicks", owner_id, day) for owner, owner_id, _, _
        in caps])
    found = []
    for (owner, owner_id, cap, clicks), reading in zip(caps, readings, strict=True):
        count = max(reading.spent, clicks.get(owner_id, 0))
        if reading.exhausted or count >= cap:
            found.append(Reached(workspace.id, "click_cap", owner, owner_id, day, count, cap,
                                 until_ms))
    return found


def _lasting(a: Verdict | None, b: Verdict) -> Verdict:
    """Of two verdicts on one campaign, the one that holds longer."""
    if a is None or b.until_ms is None:
        return b
    return a if a.until_ms is None or a.until_ms >= b.until_ms else b


class CapsTask:
    """Writes the overlay (conversion caps, CPA/RevShare budget stops) and notifies caps."""

    name = "caps"

    def __init__(self, counting: Counting) -> None:
        self.counting = counting
        self.overlay_seq = 0  # the overlay's seq after the last write
        self.capped_offers = 0  # verdicts written by the last pass
        self.blocked_campaigns = 0
        self.notified = 0  # cap.reached and cap.lifted notifications recorded

    def metrics(self) -> dict[str, float]:
        return {"overlay_seq": self.overlay_seq, "overlay_capped_offers": self.capped_offers,
                "overlay_blocked_campaigns": self.blocked_campaigns,
                "cap_notifications_total": self.notified}

    async def tick(self, tick: Tick) -> None:
        if tick.graph is None:
            return  # nothing is known yet: leave the overlay as it is
        counts = await self.counting.of(tick)
        budgets = await standings(tick, self.counting)
        capped: dict[str, Verdict] = {}
        blocked: dict[str, Verdict] = {}
        reached: list[Reached] = []
        today: dict[str, str] = {}
        for workspace in workspaces(tick.graph):
            counted = counts[workspace.id]
            today[workspace.id] = counted.day.isoformat()
            midnight = next_midnight_ms(tick.now_ms, workspace.timezone)
            for cap in _conversion_caps(workspace, counted, midnight):
                verdict = Verdict("conversion_cap", cap.until_ms)
                if cap.owner == "offer":
                    capped[cap.owner_id] = verdict
                else:
                    blocked[cap.owner_id] = _lasting(blocked.get(cap.owner_id), verdict)
                reached.append(cap)
            reached += await _click_caps(tick, workspace, counted, midnight)
            for standing in budgets.get(workspace.id, ()):
                if standing.stopped and not is_leased(standing.campaign):
                    campaign_id = standing.campaign.id
                    blocked[campaign_id] = _lasting(blocked.get(campaign_id),
                                                    Verdict("budget", standing.until_ms))
        self.overlay_seq = await overlay.write(tick.redis, tick.prefix, capped, blocked)
        self.capped_offers, self.blocked_campaigns = len(capped), len(blocked)
        await self._notify_reached(tick, reached)
        for workspace_id, day in today.items():
            await self._notify_lifted(tick, workspace_id, day)

    async def _notify_reached(self, tick: Tick, reached: list[Reached]) -> None:
        if not reached:
            return
        async with connection(tick.pool) as conn:
            done = await claimed_among(conn, [r.key for r in reached])
            await conn.commit()
        for cap in reached:
            if cap.key in done:
                continue
            async with connection(tick.pool) as conn, conn.transaction():
                detail = {**cap.data(), "event": "reached", "owner": cap.owner}
                if await once(conn, cap.key, workspace_id=cap.workspace_id, kind=cap.kind,
                              detail=detail):
                    await enqueue(conn, workspace_id=cap.workspace_id, event="cap.reached",
                                  key=cap.key, data=cap.data())
                    self.notified += 1

    async def _notify_lifted(self, tick: Tick, workspace_id: str, today: str) -> None:
        async with connection(tick.pool) as conn:
            ended = await _ended_caps(conn, workspace_id, today)
            await conn.commit()
        for key, kind, data in ended:
            async with connection(tick.pool) as conn, conn.transaction():
                lifted = f"{key}:lifted"
                if await once(conn, lifted, workspace_id=workspace_id, kind=kind,
                              detail={**data, "event": "lifted", "lifted_on": today}):
                    await enqueue(conn, workspace_id=workspace_id, event="cap.lifted",
                                  key=lifted, data={**data, "lifted_on": today})
                    self.notified += 1


async def _ended_caps(conn: psycopg.AsyncConnection[Any], workspace_id: str, today: str
                      ) -> list[tuple[str, str, dict[str, Any]]]:
    """(key, kind, notified data) of caps reached on an earlier day, not yet lifted."""
    cursor = await conn.execute(
        "SELECT g.key, g.kind, g.detail FROM governor_actions g"
        " WHERE g.workspace_id = %s AND g.kind IN ('conversion_cap', 'click_cap')"
        "   AND g.detail->>'event' = 'reached'"
        "   AND g.detail->>'day' >= %s AND g.detail->>'day' < %s"
        "   AND NOT EXISTS (SELECT 1 FROM governor_actions l WHERE l.key = g.key || ':lifted')"
        " ORDER BY g.key", (workspace_id, days_before(today, _LIFT_DAYS), today))
    found = []
    for key, kind, detail in await cursor.fetchall():
        data = {k: v for k, v in detail.items() if k not in ("event", "owner")}
        found.append((key, kind, data))
    return found


def caps_task(counting: Counting | None = None) -> CapsTask:
    return CapsTask(counting or Counting())
