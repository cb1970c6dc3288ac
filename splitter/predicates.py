"""One condition's test as a plain function of the visitor and the local time.

These are the conditions' meaning, written once. `decide` uses them only for the few
kinds the campaign index cannot turn into bitmasks (region, date range, IP, referrer,
query: see `splitter.index`), and only for the rules still in the running; everything
else here serves `compile_condition(s)` and the tests that pin the index to this meaning.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from turnout.splitter.conditions import CATEGORICAL, FOLDED, Test, parse
from turnout.splitter.errors import SplitterError
from turnout.splitter.localtime import DAY_MS, hour_of, weekday_of
from turnout.splitter.types import Condition, ConditionKind, Visitor

Predicate = Callable[[Visitor, int], bool]
K = ConditionKind


# Campaigns repeat conditions (the same countries, devices, hours) far more often than
# they invent them, so a build parses each distinct condition once while it is recent.
# Small on purpose: on a 10,000-campaign graph 4,096 entries keep most of the gain (full
# compile 3.0 s; 2.8 s unbounded, 3.7 s without) while the parsed tests a build leaves
# behind stop costing an edge ~19 MB of fragmented heap. Clearing only costs re-parsing.
_MAX_TESTS = 4096
_tests: dict[Condition, Test] = {}


def _parsed(condition: Condition) -> tuple[Test | None, list[str]]:
    try:
        test = _tests.get(condition)
    except TypeError:  # values given as a list (or holding non-strings): not cacheable
        return parse(condition)
    if test is not None:
        return test, []
    test, problems = parse(condition)
    if test is not None and not problems:
        if len(_tests) >= _MAX_TESTS:
            _tests.clear()
        _tests[condition] = test
    return test, problems


def forget_parsed() -> None:
    """Drop the parsed conditions: a build that is done needs them no more (they hold the
    expanded country sets and so on; the compiled campaigns keep what they use)."""
    _tests.clear()


def tests_of(conditions: Sequence[Condition]) -> list[Test]:
    """The parsed tests of the conditions; raises SplitterError listing every problem."""
    tests: list[Test] = []
    problems: list[str] = []
    for index, condition in enumerate(conditions):
        test, found = _parsed(condition)
        problems += [f"conditions[{index}]: {problem}" for problem in found]
        if test is not None:
            tests.append(test)
    if problems:
        raise SplitterError("; ".join(problems))
    return tests


def _region(full: frozenset[str], bare: frozenset[str]) -> Predicate:
    def region(visitor: Visitor, local_ms: int) -> bool:
        value = visitor.region.upper()
        if not value:
            return False
        if "-" in value:  # the edge already joined country and subdivision
            return value in full or value.rpartition("-")[2] in bare
        return value in bare or f"{visitor.country}-{value}" in full

    return region


def _date_range(ranges: tuple[tuple[int, int], ...]) -> Predicate:
    def date_range(visitor: Visitor, local_ms: int) -> bool:
        day = local_ms // DAY_MS
        return any(start <= day <= end for start, end in ranges)

    return date_range


def _ip(v4: tuple[tuple[int, int], ...], v6: tuple[tuple[int, int], ...]) -> Predicate:
    def ip(visitor: Visitor, local_ms: int) -> bool:
        address = visitor.ip
        blocks = v4 if visitor.ip_version == 4 else v6
        return any(address & mask == network for network, mask in blocks)

    return ip


def _referrer(exact: frozenset[str], suffixes: tuple[str, ...]) -> Predicate:
    def referrer(visitor: Visitor, local_ms: int) -> bool:
        domain = visitor.referrer_domain
        if not domain:
            return False
        domain = domain.lower().rstrip(".")
        return domain in exact or domain.endswith(suffixes)

    return referrer


def _query(param: str, values: frozenset[str]) -> Predicate:
    def query(visitor: Visitor, local_ms: int) -> bool:
        return visitor.query.get(param) in values

    return query


def _hour(mask: int) -> Predicate:
    return lambda visitor, local_ms: mask >> hour_of(local_ms) & 1 == 1


def _weekday(mask: int) -> Predicate:
    return lambda visitor, local_ms: mask >> weekday_of(local_ms) & 1 == 1


def _categorical(attribute: str, accepted: frozenset[object], folded: bool) -> Predicate:
    if folded:
        return lambda visitor, local_ms: getattr(visitor, attribute).casefold() in accepted
    return lambda visitor, local_ms: getattr(visitor, attribute) in accepted


_BUILDERS: dict[ConditionKind, Callable[..., Predicate]] = {
    K.REGION: _region,
    K.DATE_RANGE: _date_range,
    K.IP: _ip,
    K.REFERRER: _referrer,
    K.QUERY: _query,
    K.HOUR: _hour,
    K.WEEKDAY: _weekday,
}


def predicate_of(test: Test) -> Predicate:
    """The test as a function `(visitor, local_ms) -> bool`, negation included."""
    attribute = CATEGORICAL.get(test.kind)
    if attribute is not None:
        (accepted,) = test.consts
        plain = _categorical(attribute, accepted, test.kind in FOLDED)  # type: ignore[arg-type]
    else:
        plain = _BUILDERS[test.kind](*test.consts)
    if test.negate:
        return lambda visitor, local_ms: not plain(visitor, local_ms)
    return plain


def compile_condition(condition: Condition) -> Predicate:
    """The predicate of one condition (raises SplitterError when its values are bad)."""
    (test,) = tests_of([condition])
    return predicate_of(test)


def compile_conditions(conditions: Sequence[Condition]) -> Predicate | None:
    """The predicate matching when all conditions match (None for no conditions)."""
    predicates = [predicate_of(test) for test in tests_of(conditions)]
    if not predicates:
        return None
    return lambda visitor, local_ms: all(p(visitor, local_ms) for p in predicates)
