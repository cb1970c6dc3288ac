from __future__ import annotations

from datetime import UTC, datetime

import pytest

from turnout.splitter import (
    Condition,
    ConditionKind,
    Destination,
    Rule,
    SplitterError,
    Visitor,
    build_table,
    decide,
)

K = ConditionKind
NOW = int(datetime(2024, 6, 10, 12, tzinfo=UTC).timestamp() * 1000)  # a Monday, noon UTC


def ms(*args: int) -> int:
    return int(datetime(*args, tzinfo=UTC).timestamp() * 1000)


def rule(rule_id: str, *conditions: Condition, dests: tuple[Destination, ...] = ()) -> Rule:
    return Rule(rule_id, conditions, dests or (Destination(f"{rule_id}-lp", 1),))


def country(*codes: str, negate: bool = False) -> Condition:
    return Condition(K.COUNTRY, codes, negate)


DEFAULT = rule("default")


def chosen(table, visitor: Visitor, now: int = NOW, u: float | None = None) -> str | None:
    choice = decide(table, visitor, now, u)
    return None if choice is None else f"{choice.rule_id}/{choice.destination.id}"


def test_first_matching_rule_wins_in_given_order():
    rules = [rule("us", country("US")), rule("tier1", country("TIER1")), rule("eu", country("EU"))]
    table = build_table("c", rules, DEFAULT, "UTC")
    assert chosen(table, Visitor("v", country="US")) == "us/us-lp"
    assert chosen(table, Visitor("v", country="DE")) == "tier1/tier1-lp"
    assert chosen(table, Visitor("v", country="PL")) == "eu/eu-lp"
    assert chosen(table, Visitor("v", country="BR")) == "default/default-lp"
    reordered = build_table("c", rules[::-1], DEFAULT, "UTC")
    assert chosen(reordered, Visitor("v", country="DE")) == "eu/eu-lp"


def test_all_conditions_must_match():
    mobile_us = rule("m", country("US"), Condition(K.DEVICE, ("mobile",)))
    table = build_table("c", [mobile_us], DEFAULT, "UTC")
    assert chosen(table, Visitor("v", country="US", device="mobile")) == "m/m-lp"
    assert chosen(table, Visitor("v", country="US", device="desktop")) == "default/default-lp"
    assert chosen(table, Visitor("v", country="DE", device="mobile")) == "default/default-lp"


@pytest.mark.parametrize(
    "dests",
    [
        (Destination("a", 0), Destination("b", 0)),
        (Destination("a", 5, available=False),),
        (Destination("a", 0), Destination("b", 3, available=False)),
    ],
)
def test_matching_rule_without_available_destination_falls_through(dests):
    rules = [rule("dead", country("US"), dests=dests), rule("us", country("US"))]
    table = build_table("c", rules, DEFAULT, "UTC")
    assert chosen(table, Visitor("v", country="US")) == "us/us-lp"
    assert [r.rule_id for r in table.rules] == ["us", "default"]


def test_unavailable_destinations_are_never_chosen():
    dests = (
        Destination("paused", 50, available=False),
        Destination("zero", 0),
        Destination("live", 1),
    )
    table = build_table("c", [rule("r", country("US"), dests=dests)], DEFAULT, "UTC")
    for i in range(200):
        assert chosen(table, Visitor(f"v{i}", country="US")) == "r/live"


def test_default_conditions_are_ignored_and_none_when_nothing_available():
    picky_default = rule("default", country("JP"))
    table = build_table("c", [rule("us", country("US"))], picky_default, "UTC")
    assert chosen(table, Visitor("v", country="FR")) == "default/default-lp"
    empty_default = Rule("default", (), (Destination("x", 0),))
    table = build_table("c", [rule("us", country("US"))], empty_default, "UTC")
    assert chosen(table, Visitor("v", country="FR")) is None
    assert chosen(table, Visitor("v", country="US")) == "us/us-lp"
    assert chosen(build_table("c", [], empty_default, "UTC"), Visitor("v")) is None


def test_u_overrides_the_hash_and_is_clamped():
    dests = (Destination("a", 70), Destination("b", 20), Destination("c", 10))
    table = build_table("c", [], Rule("default", (), dests), "UTC")
    visitor = Visitor("")
    assert chosen(table, visitor, u=0.0) == "default/a"
    assert chosen(table, visitor, u=0.6999) == "default/a"
    assert chosen(table, visitor, u=0.70) == "default/b"
    assert chosen(table, visitor, u=0.8999) == "default/b"
    assert chosen(table, visitor, u=0.90) == "default/c"
    assert chosen(table, visitor, u=0.99999) == "default/c"
    assert chosen(table, visitor, u=1.0) == "default/c"
    assert chosen(table, visitor, u=-0.5) == "default/a"


def test_design_notes_example():
    """Campaign A: lander B gets 100% of Russia; everyone else splits 50/50 between the
    USA lander and the lander for other countries."""
    lander_b = Destination("lander-B", 100)
    russia = Rule("ru", (country("RU"),), (lander_b,))
    split = Rule("split", (), (Destination("lander-US", 50), Destination("lander-other", 50)))
    table = build_table("campaign-A", [russia], split, "Europe/Moscow")
    counts = {"lander-US": 0, "lander-other": 0}
    for i in range(20_000):
        ru = decide(table, Visitor(f"v{i}", country="RU"), NOW)
        assert ru is not None and ru.destination.id == "lander-B" and ru.rule_id == "ru"
        other = decide(table, Visitor(f"v{i}", country="US" if i % 2 else "BR"), NOW)
        assert other is not None and other.rule_id == "split"
        counts[other.destination.id] += 1
    assert abs(counts["lander-US"] - 10_000) < 400  # 4 sigma at n=20,000, p=0.5 is ~283


def test_time_windows_use_the_workspace_timezone():
    business = rule("office", Condition(K.HOUR, ("9-17",)), Condition(K.WEEKDAY, ("mon-fri",)))
    table = build_table("c", [business], DEFAULT, "America/New_York")
    visitor = Visitor("v")
    # Monday 2024-06-10, EDT (UTC-4): 13:00 UTC is 09:00 local, 12:59 UTC is 08:59.
    assert chosen(table, visitor, ms(2024, 6, 10, 13, 0)) == "office/office-lp"
    assert chosen(table, visitor, ms(2024, 6, 10, 12, 59)) == "default/default-lp"
    assert chosen(table, visitor, ms(2024, 6, 10, 21, 59)) == "office/office-lp"  # 17:59
    assert chosen(table, visitor, ms(2024, 6, 10, 22, 0)) == "default/default-lp"  # 18:00
    # Saturday 2024-06-15 00:30 UTC is still Friday 20:30 local: outside hours, but Friday.
    friday_evening = rule("fri", Condition(K.WEEKDAY, ("fri",)))
    table = build_table("c", [friday_evening], DEFAULT, "America/New_York")
    assert chosen(table, visitor, ms(2024, 6, 15, 0, 30)) == "fri/fri-lp"
    assert chosen(table, visitor, ms(2024, 6, 15, 4, 30)) == "default/default-lp"


def test_hour_window_across_dst_change():
    nine = rule("nine", Condition(K.HOUR, ("9",)))
    table = build_table("c", [nine], DEFAULT, "Europe/Berlin")
    visitor = Visitor("v")
    # 09:00 Berlin is 08:00 UTC in winter and 07:00 UTC in summer (change on 2024-03-31).
    assert chosen(table, visitor, ms(2024, 3, 30, 8, 15)) == "nine/nine-lp"
    assert chosen(table, visitor, ms(2024, 3, 30, 7, 15)) == "default/default-lp"
    assert chosen(table, visitor, ms(2024, 3, 31, 7, 15)) == "nine/nine-lp"
    assert chosen(table, visitor, ms(2024, 3, 31, 8, 15)) == "default/default-lp"


def test_date_range_in_workspace_timezone():
    sale = rule("sale", Condition(K.DATE_RANGE, ("2024-11-29..2024-12-02",)))
    table = build_table("c", [sale], DEFAULT, "Asia/Tokyo")
    visitor = Visitor("v")
    assert chosen(table, visitor, ms(2024, 11, 28, 15, 0)) == "sale/sale-lp"  # 29th 00:00 JST
    assert chosen(table, visitor, ms(2024, 11, 28, 14, 59)) == "default/default-lp"
    assert chosen(table, visitor, ms(2024, 12, 2, 14, 59)) == "sale/sale-lp"
    assert chosen(table, visitor, ms(2024, 12, 2, 15, 0)) == "default/default-lp"


def test_local_time_only_computed_for_timed_campaigns():
    plain = build_table("c", [rule("us", country("US"))], DEFAULT, "Asia/Tokyo")
    assert plain.clock is None
    timed = build_table("c", [rule("h", Condition(K.HOUR, ("1",)))], DEFAULT, "Asia/Tokyo")
    assert timed.clock is not None and timed.clock.name == "Asia/Tokyo"
    # a time condition on a rule that is left out (nothing available) needs no clock
    dead = Rule("h", (Condition(K.HOUR, ("1",)),), (Destination("x", 0),))
    assert build_table("c", [dead], DEFAULT, "Asia/Tokyo").clock is None


def test_build_rejects_bad_values_and_timezone():
    bad = rule("bad", Condition(K.COUNTRY, ("XX",)), Condition(K.HOUR, ("99",)))
    with pytest.raises(SplitterError) as error:
        build_table("c", [bad], DEFAULT, "UTC")
    assert "conditions[0]" in str(error.value) and "conditions[1]" in str(error.value)
    with pytest.raises(SplitterError, match="timezone"):
        build_table("c", [], DEFAULT, "Nowhere/Land")


def test_choice_objects_are_prebuilt():
    table = build_table(
        "c", [], Rule("default", (), (Destination("a", 1), Destination("b", 1))), "UTC"
    )
    first = decide(table, Visitor("v1"), NOW)
    assert first is decide(table, Visitor("v1"), NOW)
