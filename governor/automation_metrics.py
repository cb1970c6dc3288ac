"""What an automation rule sees: its metric and clicks per target over its window, from
the one report query builder (reports/query.py), so a rule judges the numbers the report
API shows for the same group, filters and range."""

from __future__ import annotations

import datetime as dt
import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final

from turnout.control.automation_rules import SCOPE_FIELDS, Rule, Target
from turnout.reports.query import Query, build_query
from turnout.reports.spec import MAX_LIMIT, ReportSpec

# The report dimension each target field filters and groups by.
DIMENSION_OF: Final = {"campaign": "campaign", "offer": "offer", "lander": "lander",
                       "rule": "rule", "destination": "destination"}
COMPARE: Final[dict[str, Callable[[Any, Any], bool]]] = {
    "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge, "=": operator.eq}
# Sums an item without rows has as 0; the ratios (roi, cr, epc, cpa) have no value then.
_ZERO_WITHOUT_ROWS: Final = frozenset({"clicks", "conversions", "cost", "profit"})
HOUR_MS: Final = 3_600_000


@dataclass(frozen=True, slots=True)
class Seen:
    """One target's numbers over the window."""

    target: Target
    clicks: int
    value: Decimal | None  # the rule's metric; None when it has none (a ratio over 0)


def window_start_ms(rule: Rule, now_ms: int) -> int:
    return now_ms - rule.window_hours * HOUR_MS


def _instant(ms: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC)


def query_of(rule: Rule, now_ms: int, currency: str) -> Query:
    """The report over [now - window, now) grouped by the scope's dimensions, filtered to
    the targets' ids, money in the workspace's `currency`."""
    fields = SCOPE_FIELDS[rule.scope]
    filters = tuple((DIMENSION_OF[f], tuple(sorted({str(getattr(t, f)) for t in rule.targets})))
                    for f in fields)
    spec = ReportSpec(workspace=rule.workspace, group_by=tuple(DIMENSION_OF[f] for f in fields),
                      metrics=tuple(dict.fromkeys((rule.metric, "clicks"))),
                      filters=filters, start=_instant(window_start_ms(rule, now_ms)),
                      end=_instant(now_ms), limit=MAX_LIMIT, currency=currency)
    return build_query(spec)


def seen(rule: Rule, query: Query, rows: Sequence[Sequence[Any]]) -> list[Seen]:
    """Per target (in the rule's order), its clicks and metric from `rows` of `query`."""
    names = [c.name for c in query.columns]
    fields = SCOPE_FIELDS[rule.scope]
    by_key: dict[tuple[str, ...], dict[str, Any]] = {}
    for row in rows:
        record = dict(zip(names, row, strict=True))
        by_key[tuple(str(record[DIMENSION_OF[f]]) for f in fields)] = record
    found = []
    for target in rule.targets:
        record = by_key.get(tuple(str(getattr(target, f)) for f in fields))
        if record is None:
            value = Decimal(0) if rule.metric in _ZERO_WITHOUT_ROWS else None
            found.append(Seen(target, 0, value))
            continue
        raw = record[rule.metric]
        found.append(Seen(target, int(record["clicks"]),
                          None if raw is None else Decimal(str(raw))))
    return found


def judged(rule: Rule, item: Seen) -> str:
    """`matched`, `not matched`, `too few clicks` or `no value`."""
    if item.clicks < rule.min_clicks:
        return "too few clicks"
    if item.value is None:
        return "no value"
    return "matched" if COMPARE[rule.op](item.value, rule.value) else "not matched"
