"""The campaign lifecycle: THE transition table and its guards (SPEC §10).

draft -> active | cancelled; active -> paused | completed | cancelled; paused -> active
(only before its end) | completed | cancelled; completed and cancelled are final (duplicate
to reuse). Entering `active` needs a servable path and an end in the future; cancelling
needs a reason. The admin API, the CLI and the governor all ask `transition`, so an
automatic pause obeys the same rules as a click in the dashboard.

Pure: the clock comes in as `now_ms`, the workspace time zone as a name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from turnout.config.model import Campaign
from turnout.config.validate import is_available
from turnout.config.values import instant_problem, timezone_problem, to_epoch_ms
from turnout.control.errors import ControlError

ACTIONS: Final = ("activate", "pause", "resume", "complete", "cancel")
FINAL: Final = frozenset({"completed", "cancelled"})
# (status, action) -> the status after; a pair not here is refused.
TRANSITIONS: Final[dict[tuple[str, str], str]] = {
    ("draft", "activate"): "active",
    ("draft", "cancel"): "cancelled",
    ("active", "pause"): "paused",
    ("active", "complete"): "completed",
    ("active", "cancel"): "cancelled",
    ("paused", "resume"): "active",
    ("paused", "complete"): "completed",
    ("paused", "cancel"): "cancelled",
}
# Why a pair is refused when a neighbouring action is what was meant.
_HINTS: Final[dict[tuple[str, str], str]] = {
    ("paused", "activate"): "a paused campaign is resumed (resume), not activated",
    ("draft", "resume"): "a draft has never run: activate it",
    ("active", "activate"): "it is already active",
    ("active", "resume"): "it is already active",
    ("paused", "pause"): "it is already paused",
    ("draft", "pause"): "a draft is not running: there is nothing to pause",
    ("draft", "complete"): "a draft has never run: cancel it instead",
}


class TransitionRefused(ControlError):
    """The action is not allowed from the campaign's state; `reason` says why."""

    def __init__(self, status: str, action: str, reason: str) -> None:
        super().__init__(f"cannot {action} a {status} campaign: {reason}")
        self.status, self.action, self.reason = status, action, reason


@dataclass(frozen=True, slots=True)
class Transition:
    before: str
    after: str
    action: str


def allowed_actions(status: str) -> tuple[str, ...]:
    return tuple(action for action in ACTIONS if (status, action) in TRANSITIONS)


def has_servable_path(campaign: Campaign) -> bool:
    """Some path (a rule or the default) has a destination that can be chosen."""
    paths = (*(rule.destinations for rule in campaign.rules), campaign.default)
    return any(is_available(d) for path in paths for d in path)


def end_ms(campaign: Campaign, timezone: str) -> int | None:
    """The schedule's end as epoch ms (workspace time when it has no offset); None: open."""
    end = campaign.schedule.end
    if end is None or instant_problem(end) or timezone_problem(timezone):
        return None
    return to_epoch_ms(end, timezone)


def _refusal(status: str, action: str) -> str:
    if action not in ACTIONS:
        return f"unknown action (expected one of {', '.join(ACTIONS)})"
    if status in FINAL:
        return f"{status} is final: duplicate the campaign to run it again"
    hint = _HINTS.get((status, action))
    allowed = ", ".join(allowed_actions(status)) or "none"
    return f"{hint + '; ' if hint else ''}allowed from {status}: {allowed}"


def transition(campaign: Campaign, action: str, *, now_ms: int, timezone: str,
               reason: str | None = None) -> Transition:
    """The transition `action` makes from the campaign's status, or TransitionRefused."""
    status = campaign.status
    after = TRANSITIONS.get((status, action))
    if after is None:
        raise TransitionRefused(status, action, _refusal(status, action))
    if action == "cancel" and not (reason or "").strip():
        raise TransitionRefused(status, action, "a cancellation needs a reason")
    if after == "active":
        if not has_servable_path(campaign):
            raise TransitionRefused(status, action, "no servable path: every destination "
                                    "is paused or has weight 0")
        end = end_ms(campaign, timezone)
        if end is not None and end <= now_ms:
            raise TransitionRefused(status, action, f"its schedule ended at "
                                    f"{campaign.schedule.end}: set a later schedule.end first")
    return Transition(status, after, action)


def may_edit(status: str) -> str | None:
    """Why a campaign in `status` may not be edited (PUT/PATCH), or None when it may."""
    if status in FINAL:
        return f"a {status} campaign is final: duplicate it to change and run it again"
    return None


def may_delete(status: str) -> str | None:
    """Why a campaign in `status` may not be deleted, or None when it may."""
    if status == "active":
        return "an active campaign is serving traffic: pause, complete or cancel it first"
    return None
