"""A campaign's rules compiled once into the flat tuples `decide` walks per click.

Sticky hashing (see `sticky_point`): the visitor id's CRC-32, seeded with a per-rule
32-bit salt, is multiplied by a per-rule odd 64-bit constant modulo 2**64, the product goes
through MurmurHash3's 64-bit finaliser (`mix64`), and the top bits of the result pick a
point in [0, total weight). Without the finaliser (plain multiply-shift) some multipliers
split runs of sequential ids ("v1", "v2", ...) measurably unevenly (a 48.4/51.6 split
of a 50/50 rule was seen): CRC-32 is linear, so such runs are structured inputs. Rules of
different campaigns use unrelated salts and multipliers, so a visitor's variants in two
rules are independent. Both salt and
multiplier come from BLAKE2b over the campaign and rule ids: stable across processes,
hosts and Python versions (never `hash()`). Changing this scheme moves visitors between
variants; treat it as part of the stored contract.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import accumulate
from zlib import crc32

from turnout.splitter.index import Layout, build_index, share
from turnout.splitter.localtime import ZoneClock, clock_for
from turnout.splitter.predicates import Predicate, tests_of
from turnout.splitter.types import Choice, Rule

MASK64 = (1 << 64) - 1


class CompiledRule(tuple):  # type: ignore[type-arg]
    """One rule with at least one available destination, as the one flat tuple `decide`
    reads: (key, total, k, bound_1 .. bound_k, choice_1 .. choice_k).

    The choices are prebuilt Choice objects (no allocation per decision); the bounds are
    the cumulative weights, interned across campaigns so the common ones stay in the
    cache; key = multiplier << 32 | salt (crc32 reads only the low 32 bits of its seed), 0
    when there is a single choice, so no hash is needed.
    """

    __slots__ = ()

    @property
    def rule_id(self) -> str:
        return self[3 + self[2]].rule_id  # type: ignore[no-any-return]

    @property
    def choices(self) -> tuple[Choice, ...]:
        return self[3 + self[2] :]  # type: ignore[no-any-return]

    @property
    def bounds(self) -> tuple[int, ...]:
        return self[3 : 3 + self[2]]  # type: ignore[no-any-return]

    @property
    def total(self) -> int:
        return self[1]  # type: ignore[no-any-return]

    @property
    def salt(self) -> int:
        return self[0] & 0xFFFFFFFF  # type: ignore[no-any-return]

    @property
    def multiplier(self) -> int:
        return self[0] >> 32  # type: ignore[no-any-return]


@dataclass(frozen=True, slots=True)
class CampaignTable:
    """A compiled campaign; rule i is bit i of the masks (see `splitter.index`)."""

    # What a click reads comes first, to share the object's first cache line.
    static: int  # rule bits before any lookup
    vector: bytes | tuple[int, ...]  # masks per value number and hour of the week
    layout: Layout  # where each attribute's section starts in `vector` (shared)
    rules: tuple[CompiledRule, ...]  # in order, default last; unavailable rules left out
    residuals: tuple[tuple[Predicate, ...], ...] | None  # per rule; None when there are none
    clock: ZoneClock | None  # set only when some rule has a time condition
    campaign_id: str
    timezone: str


def rule_salt(campaign_id: str, rule_id: str) -> tuple[int, int]:
    """(32-bit CRC seed, odd 64-bit multiplier) for one rule, stable everywhere."""
    digest = hashlib.blake2b(
        f"{campaign_id}\x00{rule_id}".encode(), digest_size=12, person=b"turnout-split"
    ).digest()
    return int.from_bytes(digest[:4], "big"), int.from_bytes(digest[4:], "big") | 1


def mix64(x: int) -> int:
    """MurmurHash3's fmix64: every input bit flips each output bit with probability 1/2."""
    x ^= x >> 33
    x = x * 0xFF51AFD7ED558CCD & MASK64
    x ^= x >> 33
    x = x * 0xC4CEB9FE1A85EC53 & MASK64
    return x ^ x >> 33


def sticky_point(visitor_id: str, salt: int, multiplier: int, total: int) -> int:
    """The visitor's point in [0, total) for a rule; `decide` and the C decide compute the
    same."""
    return mix64(crc32(visitor_id.encode(), salt) * multiplier & MASK64) * total >> 64


def compile_rule(campaign_id: str, rule: Rule) -> CompiledRule | None:
    """The compiled rule, or None when it has no destination to choose from."""
    available = [d for d in rule.destinations if d.available and d.weight > 0]
    if not available:
        return None
    bounds = [share(bound) for bound in accumulate(d.weight for d in available)]
    key = 0
    if len(available) > 1:
        salt, multiplier = rule_salt(campaign_id, rule.id)
        key = multiplier << 32 | salt
    choices = [Choice(rule.id, d) for d in available]
    return CompiledRule((key, bounds[-1], len(bounds), *bounds, *choices))


def build_table(
    campaign_id: str, rules: Sequence[Rule], default: Rule, timezone: str
) -> CampaignTable:
    """Compile a campaign. `rules` are evaluated in the order given; `default` comes last
    and its conditions are ignored. Raises SplitterError for bad values or timezone."""
    compiled: list[CompiledRule] = []
    rule_tests = []
    for rule in rules:
        tests = tests_of(rule.conditions)  # raises for bad values even if the rule is dropped
        entry = compile_rule(campaign_id, rule)
        if entry is not None:
            compiled.append(entry)
            rule_tests.append(tests)
    fallback = compile_rule(campaign_id, default)
    if fallback is not None:
        compiled.append(fallback)
    clock = clock_for(timezone)  # validates the zone even for campaigns without time rules
    index = build_index(rule_tests, fallback is not None)
    return CampaignTable(
        static=index.static,
        vector=index.vector,
        layout=index.layout,
        rules=tuple(compiled),
        residuals=index.residuals,
        clock=clock if index.layout.week >= 0 or index.dated else None,
        campaign_id=campaign_id,
        timezone=timezone,
    )
