"""A campaign's conditions as rule bitmasks, looked up by visitor attribute value.

Bit `i` stands for the campaign's `i`-th compiled rule (the default is the last bit). For
each categorical attribute some rule tests (`splitter.conditions.CATEGORICAL`), a section
of the campaign's mask vector gives, per value number (`splitter.domains`), the bits of
the rules whose conditions on that attribute pass for the value; number 0 stands for every
value no condition names (so a negated condition passes for values nobody listed), and
rules without a condition on the attribute have their bit everywhere. Hour and weekday
conditions become one more section of 168 masks, one per hour of the local week. A click
ANDs one mask per section: the lowest bit left is the first rule whose categorical and
time conditions all pass. Region, date range, IP, referrer and query conditions are
residuals, checked (see `splitter.predicates`) only for the rule about to be chosen.

All of a campaign's masks sit in one `bytes` object (a tuple past 8 rules), so a click
reads a few cache lines of one object; where each section starts is a `Layout` shared by
every campaign that tests the same attributes, hot in the cache like the domains.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from turnout.splitter.conditions import CATEGORICAL, Test
from turnout.splitter.domains import DOMAINS, Domain
from turnout.splitter.predicates import Predicate, predicate_of
from turnout.splitter.types import ConditionKind

# Enum member lookups cost a metaclass call each: builds use these module constants.
_HOUR, _WEEKDAY, _DATE_RANGE = ConditionKind.HOUR, ConditionKind.WEEKDAY, ConditionKind.DATE_RANGE
_TIMED = frozenset({_HOUR, _WEEKDAY})
# Small sections first: they and the busiest countries share the vector's first lines.
_ORDER = ("device", "is_bot", "language", "os", "browser", "country", "asn", "city")
assert set(_ORDER) == set(CATEGORICAL.values())
_MAX_SHARED = 100_000  # interned layouts, vectors and ints; cleared (sharing forgone) when full
_shared: dict[object, object] = {}
_EVERY_BYTE = int.from_bytes(b"\x01" * 24, "little")


@dataclass(frozen=True, slots=True, eq=False)  # interned: identity is equality
class Layout:
    exact: tuple[tuple[str, dict[object, int], int], ...]  # (attribute, view, base)
    folded: tuple[tuple[str, dict[object, int], int, Domain], ...]  # values case-folded
    week: int  # base of the 168 hour-of-week masks, -1 without time conditions


@dataclass(frozen=True, slots=True)
class Index:
    static: int  # every rule's bit, less those no value can pass
    vector: bytes | tuple[int, ...]  # the masks of all sections, as `layout` places them
    layout: Layout
    residuals: tuple[tuple[Predicate, ...], ...] | None  # per bit; None when there are none
    dated: bool  # some residual reads the local time (date ranges)


def share(value: object, key: object = None) -> object:
    """The interned equal of `value` (found by `key` when `value` is not hashable)."""
    key = (type(value), value) if key is None else key
    found = _shared.get(key)
    if found is None:
        if len(_shared) >= _MAX_SHARED:
            _shared.clear()
        _shared[key] = found = value
    return found


def layout_of(capacities: Sequence[tuple[str, int]], week: bool) -> Layout:
    """The shared layout for sections of these capacities, in `_ORDER`, then the week."""
    key = ("layout", tuple(capacities), week)
    found = _shared.get(key)
    if found is not None:
        return found  # type: ignore[return-value]
    exact: list[tuple[str, dict[object, int], int]] = []
    folded: list[tuple[str, dict[object, int], int, Domain]] = []
    base = 0
    for attribute, capacity in capacities:
        domain = DOMAINS[attribute]
        view = domain.view(base, capacity)
        if domain.folded:
            folded.append((attribute, view, base, domain))
        else:
            exact.append((attribute, view, base))
        base += capacity
    layout = Layout(tuple(exact), tuple(folded), base if week else -1)
    return share(layout, key)  # type: ignore[return-value]


def _section(attribute: str, by_bit: dict[int, list[Test]], every: int) -> dict[int, int]:
    """{value number: mask} for the values the conditions name, and 0: the default."""
    default = every & ~sum(by_bit)  # rules without a condition on the attribute
    named: set[object] = set()
    for tests in by_bit.values():
        for test in tests:
            named |= test.consts[0]  # type: ignore[arg-type]
    masks = dict.fromkeys(named, default)
    for bit, tests in by_bit.items():
        accepted: frozenset[object] | None = None  # None: no positive condition, any value
        refused: set[object] = set()
        for test in tests:
            values: frozenset[object] = test.consts[0]  # type: ignore[assignment]
            if test.negate:
                refused |= values
            else:
                accepted = values if accepted is None else accepted & values
        if accepted is None:
            default |= bit  # only negated conditions: unnamed values pass
            accepted = frozenset(named)
        for value in accepted - refused:
            masks[value] |= bit
    number = DOMAINS[attribute].number
    section = {number(value): mask for value, mask in masks.items()}
    section[0] = default
    return section


def _time_bits(tests: Sequence[Test], kind: ConditionKind, width: int) -> int:
    """The hours (or weekdays) at which all of a rule's tests of `kind` pass, as bits."""
    everything = (1 << width) - 1
    bits = everything
    for test in tests:
        if test.kind is kind:
            mask: int = test.consts[0]  # type: ignore[assignment]
            bits &= everything & ~mask if test.negate else mask
    return bits


def _week(by_bit: dict[int, list[Test]], every: int) -> bytes | list[int]:
    # A rule's hour tests and weekday tests are independent, so its week is the product of
    # 24 hour masks and 7 day masks: 31 evaluations instead of 168.
    unconstrained = every & ~sum(by_bit)
    hours = [unconstrained] * 24
    days = [unconstrained] * 7
    for bit, tests in by_bit.items():
        hour_bits = _time_bits(tests, _HOUR, 24)
        day_bits = _time_bits(tests, _WEEKDAY, 7)
        hours = [mask | bit if hour_bits >> h & 1 else mask for h, mask in enumerate(hours)]
        days = [mask | bit if day_bits >> d & 1 else mask for d, mask in enumerate(days)]
    if every >= 256:
        return [day & hour for day in days for hour in hours]
    # Byte-parallel: the 24 hour masks as one int, ANDed with each day's mask in every byte.
    by_hour = int.from_bytes(bytes(hours), "little")
    return b"".join((by_hour & day * _EVERY_BYTE).to_bytes(24, "little") for day in days)


def build_index(rule_tests: Sequence[Sequence[Test]], has_default: bool) -> Index:
    """The index over rules in order (bit i = rule_tests[i]), plus an unconditional
    default bit after them when `has_default`."""
    every = (1 << (len(rule_tests) + has_default)) - 1
    grouped: dict[str, dict[int, list[Test]]] = {}  # attribute or "" (time) -> bit -> tests
    residuals: list[tuple[Predicate, ...]] = []
    dated = False
    for position, tests in enumerate(rule_tests):
        rest = []
        for test in tests:
            group = CATEGORICAL.get(test.kind) or ("" if test.kind in _TIMED else None)
            if group is None:
                rest.append(predicate_of(test))
                dated = dated or test.kind is _DATE_RANGE
            else:
                grouped.setdefault(group, {}).setdefault(1 << position, []).append(test)
        residuals.append(tuple(rest))
    static = every
    sections: dict[str, dict[int, int]] = {}
    for attribute in _ORDER:
        if attribute in grouped:
            section = _section(attribute, grouped[attribute], every)
            if len(set(section.values())) == 1:
                static &= section[0]  # the same for every value: decided now
            else:
                sections[attribute] = section
    capacities = [(attribute, DOMAINS[attribute].capacity()) for attribute in sections]
    layout = layout_of(capacities, "" in grouped)
    narrow = every < 256  # masks fit a byte: the vector is bytes, built without int objects
    vector: bytearray | list[int] = bytearray() if narrow else []
    for (_, capacity), section in zip(capacities, sections.values(), strict=True):
        part = (bytearray if narrow else list)((section[0],)) * capacity
        for number, mask in section.items():
            part[number] = mask
        vector += part
    if "" in grouped:
        vector.extend(_week(grouped[""], every))
    if has_default:
        residuals.append(())
    return Index(
        static=static,
        vector=share(bytes(vector) if narrow else tuple(vector)),  # type: ignore[arg-type]
        layout=layout,
        residuals=tuple(residuals) if any(residuals) else None,
        dated=dated,
    )
