"""A campaign's rules compiled once into the flat tuples `decide` walks per click.

Sticky hashing (see `sticky_point`): the visitor id's CRC-32, seeded with a per-rule
32-bit salt, is multiplied by a per-rule odd 64-bit constant and the top bits of the
product modulo 2**64 pick a point in [0, total weight). That is Dietzfelbinger's
multiply-shift hash with a random odd multiplier, so the points are spread evenly even for
sequential ids ("v1", "v2", ...), and rules of different campaigns use unrelated
multipliers, so a visitor's variants in two rules are independent. Both salt and
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

from splitter.conditions import Test
from splitter.localtime import ZoneClock, clock_for
from splitter.predicates import Picker, compile_picker, tests_of
from splitter.types import Choice, Rule

MASK64 = (1 << 64) - 1


@dataclass(frozen=True, slots=True)
class CompiledRule:
    """One rule with at least one available destination.

    `choices` are prebuilt Choice objects (no allocation per decision); `bounds` are the
    cumulative weights; `multiplier` is 0 when there is a single choice, so no hash is
    needed.
    """

    rule_id: str
    tests: tuple[Test, ...]
    choices: tuple[Choice, ...]
    bounds: tuple[int, ...]
    total: int
    salt: int
    multiplier: int


@dataclass(frozen=True, slots=True)
class CampaignTable:
    campaign_id: str
    timezone: str
    rules: tuple[CompiledRule, ...]  # in order, default last; unavailable rules left out
    clock: ZoneClock | None  # set only when some rule has a time condition
    pick: Picker  # (visitor, local_ms, u) -> the Choice, or None; what decide() calls


def rule_salt(campaign_id: str, rule_id: str) -> tuple[int, int]:
    """(32-bit CRC seed, odd 64-bit multiplier) for one rule, stable everywhere."""
    digest = hashlib.blake2b(
        f"{campaign_id}\x00{rule_id}".encode(), digest_size=12, person=b"turnout-split"
    ).digest()
    return int.from_bytes(digest[:4], "big"), int.from_bytes(digest[4:], "big") | 1


def sticky_point(visitor_id: str, salt: int, multiplier: int, total: int) -> int:
    """The visitor's point in [0, total) for a rule; `decide` inlines the same arithmetic."""
    return (crc32(visitor_id.encode(), salt) * multiplier & MASK64) * total >> 64


def compile_rule(campaign_id: str, rule: Rule, tests: Sequence[Test]) -> CompiledRule | None:
    """The compiled rule, or None when it has no destination to choose from."""
    available = [d for d in rule.destinations if d.available and d.weight > 0]
    if not available:
        return None
    bounds = tuple(accumulate(d.weight for d in available))
    salt, multiplier = rule_salt(campaign_id, rule.id)
    return CompiledRule(
        rule_id=rule.id,
        tests=tuple(tests),
        choices=tuple(Choice(rule.id, d) for d in available),
        bounds=bounds,
        total=bounds[-1],
        salt=salt,
        multiplier=multiplier if len(available) > 1 else 0,
    )


def build_table(
    campaign_id: str, rules: Sequence[Rule], default: Rule, timezone: str
) -> CampaignTable:
    """Compile a campaign. `rules` are evaluated in the order given; `default` comes last
    and its conditions are ignored. Raises SplitterError for bad values or timezone."""
    compiled: list[CompiledRule] = []
    timed = False
    for rule in rules:
        tests = tests_of(rule.conditions)  # raises for bad values even if the rule is dropped
        entry = compile_rule(campaign_id, rule, tests)
        if entry is not None:
            compiled.append(entry)
            timed = timed or any(test.timed for test in entry.tests)
    fallback = compile_rule(campaign_id, default, ())
    if fallback is not None:
        compiled.append(fallback)
    clock = clock_for(timezone)  # validates the zone even for campaigns without time rules
    return CampaignTable(
        campaign_id=campaign_id,
        timezone=timezone,
        rules=tuple(compiled),
        clock=clock if timed else None,
        pick=compile_picker([(rule.tests, rule) for rule in compiled]),
    )
