"""The governor's campaign actions, each once per occasion, through the control plane.

One transaction claims the occasion (governor/once.py), performs the lifecycle action with
actor `governor` (control.entities.act: validated, audited like a click in the dashboard),
and records its notification (governor/notify.py); after it commits the change is handed to
the publisher. A refused transition (a human paused it first) still settles the occasion:
it is recorded with the reason, and the notification says nothing was done.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from turnout.control.db import connection
from turnout.governor.notify import enqueue
from turnout.governor.once import once
from turnout.governor.tick import ACTOR, Tick
from turnout.governor.transitions import transition


@dataclass(frozen=True, slots=True)
class Acted:
    claimed: bool  # the occasion was new (False: an earlier pass or governor settled it)
    done: bool  # the campaign's status changed now
    error: str | None = None  # why the control plane refused the action


async def act_once(tick: Tick, *, workspace_id: str, campaign_id: str, action: str, key: str,
                   kind: str, event: str, reason: str, data: dict[str, Any]) -> Acted:
    """`action` (control/lifecycle.py ACTIONS) on the campaign, once for `key`, with the
    notification `event` carrying `data` plus what happened."""
    async with connection(tick.pool) as conn, conn.transaction():
        detail = {**data, "action": action, "epoch": tick.epoch}
        if not await once(conn, key, workspace_id=workspace_id, kind=kind, detail=detail):
            return Acted(claimed=False, done=False)
        outcome = await transition(conn, workspace_id, campaign_id, action,
                                   now_ms=tick.now_ms, reason=reason)
        error = None if outcome.written else outcome.what.removeprefix("refused: ")
        await enqueue(conn, workspace_id=workspace_id, event=event, key=key, data={
            **data, "campaign_id": campaign_id, "from": outcome.before,
            "to": outcome.written.stored.entity.status if outcome.written else outcome.before,
            "action": action, "done": error is None, "error": error, "reason": reason})
    if outcome.written is not None:
        tick.publisher.changed(workspace_id, ACTOR, f"{action}: {reason}",
                               outcome.written.entities)
    return Acted(claimed=True, done=error is None, error=error)
