"""Generating the Python functions that evaluate conditions.

A condition's `Test` (see `splitter.conditions`) is an expression shape; the tests of a
rule are joined with `and`, and a campaign's rules become one `if ...: return choice`
chain in a single generated function (`compile_picker`), so a click costs one call, some
attribute loads, set lookups and bit tests, whatever the number of rules. Only shapes
written in `splitter.conditions` reach generated source; every value from the graph is
bound as a default argument, never pasted into code. Code is cached per source text, so
campaigns of the same shape share one code object and compile once.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any, Protocol
from zlib import crc32

from splitter.conditions import Test, parse
from splitter.errors import SplitterError
from splitter.types import Condition, Visitor

Predicate = Callable[[Visitor, int], bool]
Picker = Callable[[Visitor, int, float | None], Any]


def _region(visitor: Visitor, full: frozenset[str], bare: frozenset[str]) -> bool:
    region = visitor.region.upper()
    if not region:
        return False
    if "-" in region:  # the edge already joined country and subdivision
        return region in full or region.rpartition("-")[2] in bare
    return region in bare or f"{visitor.country}-{region}" in full


def _in_cidrs(
    visitor: Visitor, v4: tuple[tuple[int, int], ...], v6: tuple[tuple[int, int], ...]
) -> bool:
    ip = visitor.ip
    return any(ip & mask == network for network, mask in (v4 if visitor.ip_version == 4 else v6))


def _referrer(domain: str, exact: frozenset[str], suffixes: tuple[str, ...]) -> bool:
    if not domain:
        return False
    domain = domain.lower().rstrip(".")
    return domain in exact or domain.endswith(suffixes)


def _in_ranges(day: int, ranges: tuple[tuple[int, int], ...]) -> bool:
    return any(start <= day <= end for start, end in ranges)


def _unit_point(u: float, total: int) -> int:
    point = int(u * total)
    return 0 if point < 0 else total - 1 if point >= total else point


_HELPERS = {
    "__builtins__": {},
    "_region": _region,
    "_in_cidrs": _in_cidrs,
    "_referrer": _referrer,
    "_in_ranges": _in_ranges,
    "_unit_point": _unit_point,
    "_crc32": crc32,
    "_bisect": bisect_right,
}


# Bounded so a long-lived edge republishing changing graphs cannot grow them forever;
# clearing only forgoes sharing for tables built afterwards.
_MAX_SHARED = 200_000
_constants: dict[object, object] = {}
_predicates: dict[tuple[str, tuple[object, ...]], Predicate] = {}


def _remember(cache: dict, key: object, value: object) -> None:
    if len(cache) >= _MAX_SHARED:
        cache.clear()
    cache[key] = value


def _intern(const: object) -> object:
    shared = _constants.get(const)
    if shared is None:
        _remember(_constants, const, const)
        return const
    return shared


def tests_of(conditions: Sequence[Condition]) -> list[Test]:
    """The parsed tests of the conditions; raises SplitterError listing every problem."""
    tests: list[Test] = []
    problems: list[str] = []
    for index, condition in enumerate(conditions):
        test, found = parse(condition)
        problems += [f"conditions[{index}]: {problem}" for problem in found]
        if test is not None:
            tests.append(test)
    if problems:
        raise SplitterError("; ".join(problems))
    return tests


def _joined(tests: Sequence[Test], consts: list[object]) -> str:
    """`tests` as one `and` expression, their constants appended to `consts` as k0, k1..."""
    parts: list[str] = []
    # Cheap set lookups first: every test is pure, so order changes cost, not outcome.
    for test in sorted(tests, key=lambda test: test.cost):
        names = [f"k{len(consts) + i}" for i in range(len(test.consts))]
        parts.append("(" + test.expr.format(*names) + ")")
        consts.extend(_intern(const) for const in test.consts)
    return " and ".join(parts)


def compile_tests(tests: Sequence[Test]) -> Predicate | None:
    """One predicate for all tests (None when there are none: the rule always matches)."""
    if not tests:
        return None
    consts: list[object] = []
    body = f"        return {_joined(tests, consts)}"
    key = (body, tuple(consts))
    predicate = _predicates.get(key)
    if predicate is None:
        predicate = _factory(len(consts), body)(*consts)
        _remember(_predicates, key, predicate)
    return predicate


class Weighted(Protocol):
    """A rule's prepared choice (see splitter.table.CompiledRule)."""

    choices: tuple[Any, ...]
    bounds: tuple[int, ...]
    total: int
    salt: int
    multiplier: int


def compile_picker(branches: Sequence[tuple[Sequence[Test], Weighted]]) -> Picker:
    """One function `(visitor, local_ms, u) -> Choice | None` for a whole campaign.

    `branches` are (tests, rule) in order: the first rule whose tests all pass makes the
    weighted choice (see `splitter.table` for the hash); a rule without tests always
    passes and ends the function. One generated function per campaign means one call per
    click whatever the number of rules, no intermediate tuples, and constants shared
    across campaigns (see `_intern`) that stay hot in the CPU cache.
    """
    consts: list[object] = []

    def bind(value: object) -> str:
        consts.append(value)
        return f"k{len(consts) - 1}"

    lines: list[str] = []
    for tests, rule in branches:
        indent = "        "
        if tests:
            lines.append(f"        if {_joined(tests, consts)}:")
            indent += "    "
        if rule.multiplier:
            total = bind(rule.total)
            hashed = (
                f"(_crc32(v.visitor_id.encode(), {bind(rule.salt)}) * {bind(rule.multiplier)}"
                f" & 0xFFFFFFFFFFFFFFFF) * {total} >> 64"
            )
            point = f"{hashed} if u is None else _unit_point(u, {total})"
            choice = f"{bind(rule.choices)}[_bisect({bind(rule.bounds)}, {point})]"
        else:
            choice = bind(rule.choices[0])
        lines.append(f"{indent}return {choice}")
        if not tests:
            break
    else:
        lines.append("        return None")
    return _factory(len(consts), "\n".join(lines), "v, t, u")(*consts)


def compile_condition(condition: Condition) -> Predicate:
    """The predicate of one condition (raises SplitterError when its values are bad)."""
    predicate = compile_tests(tests_of([condition]))
    assert predicate is not None  # one valid condition always yields one test
    return predicate


def compile_conditions(conditions: Sequence[Condition]) -> Predicate | None:
    """The predicate matching when all conditions match (None for no conditions)."""
    return compile_tests(tests_of(conditions))


@lru_cache(maxsize=4096)
def _factory(arity: int, body: str, params: str = "v, t") -> Callable[..., Callable[..., Any]]:
    # Constants are bound as defaults, not closure cells: one tuple copied into the frame
    # per call instead of one pointer chase per constant. Equal shapes share one code
    # object; only the defaults differ between campaigns.
    names = ", ".join(f"k{i}" for i in range(arity))
    bound = "".join(f", k{i}=k{i}" for i in range(arity))
    source = f"def factory({names}):\n    def fn({params}{bound}):\n{body}\n    return fn\n"
    namespace: dict[str, object] = {}
    exec(compile(source, "<splitter>", "exec"), dict(_HELPERS), namespace)
    factory = namespace["factory"]
    assert callable(factory)
    return factory
