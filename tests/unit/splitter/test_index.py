"""The bitmask index decides exactly as the conditions, evaluated one by one, would."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.splitter.strategies import NOW, ZONES, campaigns, visitors
from turnout.splitter import (
    Condition,
    ConditionKind,
    Destination,
    Rule,
    Visitor,
    build_table,
    compile_conditions,
    decide,
)
from turnout.splitter.localtime import clock_for

K = ConditionKind


def reference(body: list[Rule], default: Rule, zone: str, visitor: Visitor, now: int) -> str | None:
    """The first rule, in order, with an available destination and every condition true."""
    local_ms = clock_for(zone).local_ms(now)
    for rule in [*body, default]:
        if not any(d.available and d.weight > 0 for d in rule.destinations):
            continue
        matches = None if rule is default else compile_conditions(rule.conditions)
        if matches is None or matches(visitor, local_ms):
            return rule.id
    return None


@settings(max_examples=250, deadline=None)
@given(
    campaign=campaigns(),
    zone=st.sampled_from(ZONES),
    people=st.lists(visitors(), min_size=1, max_size=5),
    now=st.integers(min_value=NOW - 400 * 86_400_000, max_value=NOW + 400 * 86_400_000),
)
def test_index_picks_the_rule_the_conditions_pick(campaign, zone, people, now):
    body, default = campaign
    table = build_table("camp", body, default, zone)
    for visitor in people:
        choice = decide(table, visitor, now)
        expected = reference(body, default, zone, visitor, now)
        assert (None if choice is None else choice.rule_id) == expected


def test_spellings_learned_before_a_value_is_named_are_relearned():
    # A visitor's "Plan9" is remembered as unknown for OS; a later campaign naming it
    # must still match it, and the earlier campaign must still not.
    default = Rule("default", (), (Destination("d", 1),))
    windows = Rule("win", (Condition(K.OS, ("Windows",)),), (Destination("w", 1),))
    first = build_table("a", [windows], default, "UTC")
    visitor = Visitor("v", os="Plan9-Test-OS")
    assert decide(first, visitor, NOW).rule_id == "default"  # type: ignore[union-attr]
    plan9 = Rule("p9", (Condition(K.OS, ("plan9-test-os",)),), (Destination("p", 1),))
    later = build_table("b", [plan9], default, "UTC")
    assert decide(later, visitor, NOW).rule_id == "p9"  # type: ignore[union-attr]
    assert decide(first, visitor, NOW).rule_id == "default"  # type: ignore[union-attr]


def test_values_named_after_a_table_was_built_get_its_default():
    default = Rule("default", (), (Destination("d", 1),))
    negated = Rule("not-xx", (Condition(K.LANGUAGE, ("en",), negate=True),), (Destination("n", 1),))
    early = build_table("a", [negated], default, "UTC")
    build_table(
        "b", [Rule("zu", (Condition(K.LANGUAGE, ("zu",)),), (Destination("z", 1),))], default, "UTC"
    )
    assert decide(early, Visitor("v", language="zu"), NOW).rule_id == "not-xx"  # type: ignore[union-attr]
    assert decide(early, Visitor("v", language="en"), NOW).rule_id == "default"  # type: ignore[union-attr]


def test_identical_campaigns_share_their_masks():
    rule = Rule(
        "us",
        (Condition(K.COUNTRY, ("US",)), Condition(K.HOUR, ("9-17",))),
        (Destination("a", 1), Destination("b", 2)),
    )
    default = Rule("default", (), (Destination("d", 1),))
    one = build_table("one", [rule], default, "UTC")
    two = build_table("two", [rule], default, "Europe/Berlin")
    assert one.vector is two.vector and one.layout is two.layout
    assert one.rules[0].salt != two.rules[0].salt  # the hash stays per campaign
