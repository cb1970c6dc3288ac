"""Schedules: a campaign completes at its end (SPEC §11).

Edges already serve a campaign only inside start..end (CompiledCampaign.is_live, in the
workspace timezone as compile reads the schedule), so at its end it stops serving at once,
without the governor. The governor makes the status follow: each pass it completes every
active or paused campaign whose end has passed, once per (campaign, end), through the
control plane, and reports it as a `campaign.transition` notification.
"""

from __future__ import annotations

import datetime as dt
from typing import Final

from turnout.control.db import connection
from turnout.governor.acting import act_once
from turnout.governor.tick import Tick

_ENDED: Final = """
SELECT workspace_id, id, ends_at FROM campaigns
WHERE status IN ('active', 'paused') AND ends_at <= %s AND archived_at IS NULL
ORDER BY ends_at LIMIT %s
"""
BATCH: Final = 500  # campaigns completed per pass at most; the rest wait for the next


class Schedules:
    name = "schedules"

    def __init__(self) -> None:
        self.completed = 0  # campaigns this task completed (a metric)

    async def tick(self, tick: Tick) -> None:
        now = dt.datetime.fromtimestamp(tick.now_ms / 1000, dt.UTC)
        async with connection(tick.pool) as conn:
            cursor = await conn.execute(_ENDED, (now, BATCH))
            ended = await cursor.fetchall()
        for workspace_id, campaign_id, ends_at in ended:
            end_ms = int(ends_at.timestamp() * 1000)
            acted = await act_once(
                tick, workspace_id=workspace_id, campaign_id=campaign_id, action="complete",
                key=f"schedule:{workspace_id}:{campaign_id}:end:{end_ms}", kind="schedule",
                event="campaign.transition", reason="its schedule ended",
                data={"end_ms": end_ms})
            self.completed += acted.done

    def metrics(self) -> dict[str, float]:
        return {"turnout_governor_schedule_completions_total": self.completed}
