"""The campaign lifecycle: every (status, action) pair, the guards, and a state machine
run by hypothesis against an independent statement of the rules."""

from __future__ import annotations

import itertools

import msgspec
import pytest
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from turnout.config.examples import GRAPH
from turnout.config.io import load_graph
from turnout.config.model import STATUSES, Campaign, Destination, Schedule
from turnout.control import lifecycle
from turnout.control.lifecycle import TransitionRefused, transition

NOW = 1_750_000_000_000  # 2025-06-15T15:06:40Z
CAMPAIGN = load_graph(GRAPH).campaigns[0]
ALLOWED = {
    ("draft", "activate"): "active", ("draft", "cancel"): "cancelled",
    ("active", "pause"): "paused", ("active", "complete"): "completed",
    ("active", "cancel"): "cancelled",
    ("paused", "resume"): "active", ("paused", "complete"): "completed",
    ("paused", "cancel"): "cancelled",
}


def at(status: str, **changes: object) -> Campaign:
    return msgspec.structs.replace(CAMPAIGN, status=status, **changes)


@pytest.mark.parametrize(("status", "action"), list(itertools.product(STATUSES, lifecycle.ACTIONS)))
def test_every_pair(status: str, action: str) -> None:
    campaign = at(status)
    if (status, action) in ALLOWED:
        step = transition(campaign, action, now_ms=NOW, timezone="UTC", reason="spend cap")
        assert (step.before, step.after, step.action) == (status, ALLOWED[status, action],
                                                          action)
    else:
        with pytest.raises(TransitionRefused) as refused:
            transition(campaign, action, now_ms=NOW, timezone="UTC", reason="spend cap")
        assert refused.value.reason
        if status in lifecycle.FINAL:
            assert "final" in refused.value.reason and "duplicate" in refused.value.reason
        else:
            assert f"allowed from {status}" in refused.value.reason


def test_the_table_is_the_spec() -> None:
    assert lifecycle.TRANSITIONS == ALLOWED


def test_hints_name_what_was_meant() -> None:
    with pytest.raises(TransitionRefused, match="resumed"):
        transition(at("paused"), "activate", now_ms=NOW, timezone="UTC")
    with pytest.raises(TransitionRefused, match="unknown action"):
        transition(at("draft"), "explode", now_ms=NOW, timezone="UTC")


@pytest.mark.parametrize("reason", [None, "", "   "])
def test_cancel_needs_a_reason(reason: str | None) -> None:
    with pytest.raises(TransitionRefused, match="reason"):
        transition(at("active"), "cancel", now_ms=NOW, timezone="UTC", reason=reason)


def test_activation_needs_a_servable_path() -> None:
    idle = tuple(msgspec.structs.replace(d, weight=0) for d in CAMPAIGN.default)
    paused = tuple(msgspec.structs.replace(d, paused=True) for d in CAMPAIGN.default)
    for default in (idle, paused):
        campaign = at("draft", rules=(), default=default)
        assert not lifecycle.has_servable_path(campaign)
        with pytest.raises(TransitionRefused, match="servable"):
            transition(campaign, "activate", now_ms=NOW, timezone="UTC")
    # One available destination on some path is enough, a rule's as well as the default's.
    rule = msgspec.structs.replace(CAMPAIGN.rules[0], destinations=(
        Destination(id="d", kind="url", url="https://x.example/"),))
    assert lifecycle.has_servable_path(at("draft", rules=(rule,), default=idle))


@pytest.mark.parametrize("action", ["activate", "resume"])
def test_entering_active_needs_an_end_in_the_future(action: str) -> None:
    status = "draft" if action == "activate" else "paused"
    ended = at(status, schedule=Schedule(end="2025-06-15T15:00:00"))
    with pytest.raises(TransitionRefused, match="ended"):
        transition(ended, action, now_ms=NOW, timezone="UTC")
    # Workspace time: 15:00 in New York is 19:00 UTC, still ahead.
    step = transition(ended, action, now_ms=NOW, timezone="America/New_York")
    assert step.after == "active"
    open_ended = at(status, schedule=Schedule(start="2025-01-01T00:00:00"))
    assert transition(open_ended, action, now_ms=NOW, timezone="UTC").after == "active"


def test_edits_and_deletes() -> None:
    assert lifecycle.may_edit("active") is None
    assert "final" in (lifecycle.may_edit("completed") or "")
    assert "pause" in (lifecycle.may_delete("active") or "")
    assert all(lifecycle.may_delete(s) is None for s in STATUSES if s != "active")


class Lifecycle(RuleBasedStateMachine):
    """Random action sequences: the status follows the spec's rules exactly, final
    states stay final, and refused actions change nothing."""

    def __init__(self) -> None:
        super().__init__()
        self.campaign = at("draft")
        self.model = "draft"
        self.history = ["draft"]

    @rule(action=st.sampled_from(lifecycle.ACTIONS),
          reason=st.one_of(st.none(), st.just(""), st.just("budget spent")))
    def act(self, action: str, reason: str | None) -> None:
        expected = ALLOWED.get((self.model, action))
        if action == "cancel" and not reason:
            expected = None
        try:
            step = transition(self.campaign, action, now_ms=NOW, timezone="UTC",
                              reason=reason)
        except TransitionRefused:
            assert expected is None
            return
        assert step.after == expected
        self.campaign = msgspec.structs.replace(self.campaign, status=step.after)
        self.model = step.after
        self.history.append(step.after)

    @invariant()
    def status_follows_the_model(self) -> None:
        assert self.campaign.status == self.model

    @invariant()
    def final_states_are_final(self) -> None:
        finals = [i for i, s in enumerate(self.history) if s in lifecycle.FINAL]
        assert not finals or finals[0] == len(self.history) - 1

    @invariant()
    def never_back_to_draft(self) -> None:
        assert "draft" not in self.history[1:]


TestLifecycle = Lifecycle.TestCase
