"""Held conversions: counted ones whose money cannot be put in the workspace currency yet,
because no exchange rate covers their currency on their UTC day (reports/fx.py).

Listed by that day (the day of the rate they wait for), currency and status, with their
original amounts, so an operator sees which rates to import. Like the not-counted report
they are selected by when the edge accepted them (`ts`); every report's
`held_conversions` says how many of its own conversions (by click time) are held. The
API (`/api/v1/held`), `turnout report --held` and the SQL in docs/analytics.md read this
query.
"""

from __future__ import annotations

import dataclasses
from typing import Final

from turnout.reports.errors import ParameterError
from turnout.reports.fx import CONVERSIONS, HELD
from turnout.reports.metrics import METRICS, MONEY_BASES
from turnout.reports.not_counted import MAX_ROWS, accepted_within
from turnout.reports.query import Column, Query
from turnout.reports.run import ReportResult
from turnout.reports.spec import ReportSpec

COLUMNS: Final = (
    Column("date", "dimension"),
    Column("currency", "dimension"),
    Column("status", "dimension"),
    Column("conversions", "metric", "count"),
    Column("payout", "metric", "money", 6),
)


def build_query(spec: ReportSpec) -> Query:
    """Held conversions of `spec.workspace` (statuses in `spec.statuses`) accepted within
    `spec.start`..`spec.end`; `payout` is in each row's own currency."""
    if not spec.currency:
        raise ParameterError("currency: the workspace currency is unknown, so no conversion "
                             "can be told held or not")
    where, parameters = accepted_within(spec)
    where += ["counted", HELD, "status IN {statuses:Array(String)}"]
    parameters.update(currency=spec.currency, statuses=list(spec.statuses))
    sql = (
        "SELECT toDate(conversions_latest.ts) AS date, currency, status,"
        " count() AS conversions, toDecimal128(sum(payout_micros), 6) / 1000000 AS payout\n"
        f"FROM {CONVERSIONS}\n"
        f"WHERE {' AND '.join(where)}\n"
        "GROUP BY date, currency, status\n"
        "ORDER BY date, currency, status\n"
        f"LIMIT {MAX_ROWS}"
    )
    return Query(sql, parameters, COLUMNS)


def count_spec(spec: ReportSpec) -> ReportSpec | None:
    """The report counting the held conversions of `spec`'s scope (same filters, times and
    statuses): a report's `held_conversions`. None when `spec` sums no conversion money."""
    needs = {base for name in spec.metrics for base in METRICS[name].needs}
    if not needs & MONEY_BASES:
        return None
    return dataclasses.replace(spec, group_by=(), metrics=("held_conversions",), sort=(),
                               limit=1, offset=0)


def held_total(result: ReportResult) -> int:
    """`held_conversions` of the result of a count_spec report."""
    return int(result.rows[0][0]) if result.rows else 0
