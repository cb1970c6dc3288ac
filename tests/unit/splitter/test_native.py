"""The C decide (`splitter/_decide.c`) against the reference `decide_py`: the same choice
(the same prebuilt object) or the same exception for every input, no leaked references,
and it is the `decide` everyone imports. TURNOUT_REQUIRE_C=0 accepts a machine where the
extension could not be built; everywhere else its absence fails here."""

from __future__ import annotations

import gc
import hashlib
import math
import os
import sys
from bisect import bisect_right
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.splitter.strategies import NOW, ZONES, campaigns, visitors
from turnout import splitter
from turnout.splitter import Condition, ConditionKind, Destination, Rule, Visitor, build_table
from turnout.splitter.index import Layout
from turnout.splitter.localtime import ZoneClock
from turnout.splitter.table import CampaignTable, rule_salt, sticky_point

K = ConditionKind
engine = sys.modules["turnout.splitter.decide"]
decide_py = engine.decide_py
native = engine.decide_c or decide_py  # the reference only where TURNOUT_REQUIRE_C=0 allows
REQUIRED = os.environ.get("TURNOUT_REQUIRE_C", "1") != "0"


def outcome(function: Callable[..., object], *args: object, **kwargs: object) -> object:
    """The result, or the type of the exception raised."""
    try:
        return function(*args, **kwargs)
    except Exception as error:
        return type(error)


def same(*args: object, **kwargs: object) -> object:
    result = outcome(native, *args, **kwargs)
    assert result is outcome(decide_py, *args, **kwargs), (args, kwargs)
    return result


def test_the_c_decide_is_built_current_and_in_use():
    if engine.decide_c is None and not REQUIRED:
        assert splitter.decide is engine.decide is decide_py
        return
    assert engine.decide_c is not None, "splitter/_decide.c is not built: pip install -e ."
    from turnout.splitter import _decide

    source = Path(engine.__file__).with_name("_decide.c").read_bytes()
    assert hashlib.sha256(source).hexdigest() == _decide.SOURCE_SHA256, (
        "splitter/_decide.c changed since it was built: pip install -e ."
    )
    assert splitter.decide is engine.decide is engine.decide_c


@contextmanager
def spied() -> Iterator[list[object]]:
    """Calls the C code hands to the reference, while inside."""
    from turnout.splitter import _decide

    calls: list[object] = []

    def spy(*args: object) -> object:
        calls.append(args)
        return decide_py(*args)

    _decide.configure(spy, CampaignTable, Layout, ZoneClock, Visitor)
    try:
        yield calls
    finally:
        _decide.configure(decide_py, CampaignTable, Layout, ZoneClock, Visitor)


units = (
    st.none()
    | st.floats(min_value=0.0, max_value=1.0, exclude_max=True)
    | st.sampled_from([-0.5, -0.0, 1.0, 1.5, 1e300, -1e300, math.nan, math.inf, 5e-324])
)


@settings(max_examples=300, deadline=None)
@given(
    campaign=campaigns(),
    zone=st.sampled_from(ZONES),
    people=st.lists(visitors(), min_size=1, max_size=4),
    now=st.integers(min_value=-(10**13), max_value=10**13),  # 1653 .. 2286, before 1970 too
    u=units,
)
def test_same_result_as_the_reference(campaign, zone, people, now, u):
    body, default = campaign
    table = build_table("camp", body, default, zone)
    for visitor in people:
        same(table, visitor, now, u)


@settings(max_examples=200, deadline=None)
@given(
    visitor_id=st.text(max_size=40),
    weights=st.lists(st.integers(min_value=1, max_value=2**62), min_size=2, max_size=5),
    campaign=st.text(max_size=8),
)
def test_sticky_hash_is_table_py_s(visitor_id, weights, campaign):
    # Totals past 2**64 (the reference decides those) and just under it (128-bit product).
    dests = tuple(Destination(f"d{i}", w) for i, w in enumerate(weights))
    table = build_table(campaign, [], Rule("r", (), dests), "UTC")
    pick = table.rules[0]
    point = sticky_point(visitor_id, pick.salt, pick.multiplier, pick.total)
    choice = same(table, Visitor(visitor_id), NOW)
    assert choice.destination.id == f"d{bisect_right(pick.bounds, point)}"  # type: ignore[attr-defined]


def test_golden_points_in_both_implementations():
    salt, multiplier = rule_salt("campaign-A", "split")
    assert (salt, multiplier) == (331700768, 10477711538263126817)
    dests = tuple(Destination(f"d{i}", 1) for i in range(1000))
    table = build_table("campaign-A", [], Rule("split", (), dests), "UTC")
    for function in (native, decide_py):
        chosen = [function(table, Visitor(f"v{i}"), NOW).destination.id for i in range(5)]
        assert chosen == ["d927", "d723", "d74", "d819", "d544"]
    # Non-ASCII ids hash their UTF-8 bytes, as str.encode() gives them.
    for visitor_id in ("", "ü", "日本語-visitor", "🙂" * 9, "a\x00b"):
        point = sticky_point(visitor_id, salt, multiplier, 1000)
        assert native(table, Visitor(visitor_id), NOW).destination.id == f"d{point}"


def _country_rules(count: int) -> list[Rule]:
    codes = ["US", "DE", "GB", "FR", "RU", "BR", "IN"]
    return [
        Rule(
            f"r{i}",
            (
                Condition(K.COUNTRY, (codes[i % 7], codes[i * 3 % 7])),
                Condition(K.HOUR, (str(i % 24),)),
            ),
            (Destination(f"r{i}a", 1), Destination(f"r{i}b", 3)),
        )
        for i in range(count)
    ]


DEFAULT = Rule("default", (), (Destination("x", 1), Destination("y", 1)))


def test_the_reference_is_asked_only_for_what_c_does_not_handle():
    narrow = build_table("c", _country_rules(5), DEFAULT, "Europe/Berlin")  # bytes masks
    wide = build_table("c", _country_rules(40), DEFAULT, "Europe/Berlin")  # a tuple of ints
    huge = build_table("c", _country_rules(70), DEFAULT, "Europe/Berlin")  # past 64 bits
    people = [Visitor(f"v{i}", country=c) for i, c in enumerate(["US", "DE", "FR", "JP", "IN"])]
    hours = range(NOW, NOW + 86_400_000, 3_600_000)
    with spied() as calls:
        for visitor in people:
            for now in hours:
                same(narrow, visitor, now)
                same(wide, visitor, now, 0.3)
        assert calls == []
        for visitor in people:
            for now in hours:
                same(huge, visitor, now)
        assert len(calls) == len(people) * len(hours)


def test_unusual_calls_behave_as_the_reference():
    table = build_table("c", _country_rules(3), DEFAULT, "Asia/Kolkata")
    visitor = Visitor("v1", country="DE")
    same(table=table, visitor=visitor, now_ms=NOW, u=0.7)
    same(table, visitor, now_ms=NOW)
    same(table, visitor, NOW, u=0.7)
    assert same(table, visitor) is TypeError
    assert same(table, visitor, NOW, 0.5, 1) is TypeError
    assert same(table, visitor, NOW, table=table) is TypeError
    assert same(table, visitor, NOW, bogus=1) is TypeError
    for u in (0, 1, True, 2**70):  # ints are the reference's business
        same(table, visitor, NOW, u)
    for now in (2**80, -(2**80), -1, 0, True):
        same(table, visitor, now)
        same(build_table("c", [], DEFAULT, "UTC"), visitor, now)
    same(table, Visitor("\ud800", country="US"), NOW)  # a lone surrogate cannot be hashed
    same(table, Visitor("v", country=["US"]), NOW)  # type: ignore[arg-type]  # unhashable
    same(object(), visitor, NOW)
    same(table, object(), NOW)


class TaggedVisitor(Visitor):
    """A subclass: its attributes are read with getattr, not at slot offsets."""


class TaggedTable(CampaignTable):
    pass


@settings(max_examples=100, deadline=None)
@given(campaign=campaigns(), people=st.lists(visitors(), min_size=1, max_size=3))
def test_subclasses_decide_as_the_originals(campaign, people):
    body, default = campaign
    table = build_table("camp", body, default, "UTC")
    tagged = TaggedTable(*(getattr(table, name) for name in CampaignTable.__slots__))
    for visitor in people:
        fields = {name: getattr(visitor, name) for name in Visitor.__slots__}
        expected = decide_py(table, visitor, NOW)
        assert native(table, TaggedVisitor(**fields), NOW) is expected
        assert native(tagged, visitor, NOW) is expected


def test_no_reference_or_memory_leaks():
    residual = Rule(
        "res",
        (
            Condition(K.REGION, ("US-CA",)),
            Condition(K.IP, ("10.0.0.0/8",), negate=True),
            Condition(K.DATE_RANGE, ("2020-01-01..2030-12-31",)),
        ),
        (Destination("a", 1), Destination("b", 2)),
    )
    folded = Rule("os", (Condition(K.OS, ("iOS",)),), (Destination("i", 1),))
    tables = [
        build_table("a", [residual, folded, *_country_rules(4)], DEFAULT, "America/New_York"),
        build_table("b", _country_rules(20), DEFAULT, "Asia/Kathmandu"),
        build_table("c", _country_rules(70), DEFAULT, "UTC"),  # the reference decides
        build_table("d", [folded], Rule("none", (), (Destination("z", 0),)), "UTC"),  # None
    ]
    people = [
        Visitor("v1", country="US", region="CA", os="IOS"),
        Visitor("v2", country="DE", os="Android", ip=0x0A000001),
        Visitor("v3", region="US-CA", os="ios"),
        Visitor("\udc00", country="FR"),  # raises
    ]
    times = [NOW, NOW + 3_600_000 * 50, -86_400_000]

    def run() -> None:
        for round_ in range(300):
            for table in tables:
                if round_ % 7 == 0 and table.clock is not None:
                    table.clock.hours.clear()  # the hour-of-week callback too
                for visitor in people:
                    for now in times:
                        outcome(native, table, visitor, now)
                        outcome(native, table, visitor, now, 0.5)

    run()  # caches warm: hours, offsets, learned spellings
    gc.collect()
    watched = [*tables, *people, *(r for t in tables for r in t.rules)]
    watched += [c for t in tables for r in t.rules for c in r.choices]
    watched += [t.vector for t in tables] + [t.clock for t in tables]
    watched += [checks for t in tables for checks in t.residuals or ()]
    counts = [sys.getrefcount(o) for o in watched]
    blocks = sys.getallocatedblocks()
    run()
    gc.collect()
    assert [sys.getrefcount(o) for o in watched] == counts
    assert sys.getallocatedblocks() - blocks < 100  # after ~29,000 decisions


def test_a_new_spelling_is_learned_once_without_leaking():
    table = build_table(
        "c", [Rule("os", (Condition(K.OS, ("Plan9",)),), (Destination("p", 1),))], DEFAULT, "UTC"
    )
    spelling = "".join(["PLAN", "9"])  # a fresh str object, not an interned constant
    before = sys.getrefcount(spelling)
    for _ in range(50):
        assert native(table, Visitor("v", os=spelling), NOW).rule_id == "os"  # type: ignore[union-attr]
    assert sys.getrefcount(spelling) == before + 1  # the view remembers it, once


def test_every_quarter_hour_across_a_dst_change_and_before_1970():
    # Forwards and backwards, so a quarter's neighbours are cached when it is decided: the
    # quarter of a time before 1970 must be floored, not truncated towards zero.
    rules = [
        Rule("night", (Condition(K.HOUR, ("22-5",)),), (Destination("n", 1),)),
        Rule("weekend", (Condition(K.WEEKDAY, ("sat-sun",)),), (Destination("w", 1),)),
        Rule("odd", (Condition(K.HOUR, tuple(map(str, range(1, 24, 2)))),), (Destination("o", 1),)),
    ]
    table = build_table("c", rules, DEFAULT, "Europe/Berlin")
    for start in (1_711_238_400_000, -86_400_000 * 9):  # 2024-03-24 (DST on the 31st), 1969
        quarters = range(start, start + 10 * 86_400_000, 900_000)
        for order in (quarters, reversed(quarters)):
            for now in order:
                for offset in (0, 1, 123_456, 899_999):
                    same(table, Visitor("v"), now + offset)
        table.clock.hours.clear()  # type: ignore[union-attr]
        for now in quarters:  # the hour-of-week callback every time
            same(table, Visitor("v"), now + 5)
            table.clock.hours.clear()  # type: ignore[union-attr]
