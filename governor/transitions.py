"""A governor's lifecycle action on a campaign, inside the caller's transaction.

The action goes through control.entities.act, so it follows the same transitions as a
human's (SPEC §10) and writes one audit row by `governor`. A refused transition (a human
paused it first, it is completed) is an outcome, not an error: the caller records it with
its claim. The caller publishes `Outcome.written` after its transaction commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg

from turnout.control.entities import Written, act
from turnout.control.entity_docs import read_one
from turnout.control.entity_errors import EntityNotFound
from turnout.control.lifecycle import TransitionRefused
from turnout.governor.tick import actor


@dataclass(frozen=True, slots=True)
class Outcome:
    written: Written | None  # the committed change to publish (None: nothing changed)
    before: str  # the status found ("" when the campaign is gone)
    what: str  # paused | completed | resumed ... or "refused: why"

    @property
    def detail(self) -> dict[str, Any]:
        """For the claim's detail: what happened and the revision it left."""
        revision = None if self.written is None else self.written.revision
        return {"outcome": self.what, "from": self.before, "revision": revision}


_DONE = {"pause": "paused", "resume": "resumed", "complete": "completed"}


async def transition(conn: psycopg.AsyncConnection[Any], workspace_id: str, campaign_id: str,
                     action: str, *, now_ms: int, reason: str,
                     expected: int | None = None) -> Outcome:
    """`action` on the campaign as the governor; with `expected`, only at that revision
    (another one: refused, someone changed it since)."""
    try:
        stored = await read_one(conn, workspace_id, "campaigns", campaign_id)
    except EntityNotFound:
        return Outcome(None, "", "refused: the campaign is gone")
    status = stored.entity.status
    if expected is not None and stored.revision != expected:
        return Outcome(None, status, f"refused: changed since (revision {stored.revision}, "
                                     f"the governor left {expected})")
    try:
        written = await act(conn, actor(workspace_id), campaign_id, action, stored.revision,
                            now_ms=now_ms, reason=reason)
    except TransitionRefused as exc:
        return Outcome(None, status, f"refused: {exc.reason}")
    return Outcome(written, status, _DONE.get(action, action))
