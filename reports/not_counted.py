"""Conversions that count in no report, and why (issue #10: nothing accepted is dropped).

Ingest stores every conversion it accepts; one that cannot be attributed, or came after its
click's attribution window, is kept with `not_counted_reason` and no revenue. This report
lists them by reason, source, network, status and currency, by the time the edge accepted
them (`ts`: an unattributed conversion has no click time). The API (`/api/v1/not-counted`),
`turnout report --not-counted` and the SQL in docs/analytics.md read the same query.
"""

from __future__ import annotations

from typing import Final

from turnout.reports.query import Column, Query, time_param
from turnout.reports.spec import ReportSpec

_TIME: Final = "DateTime64(3, 'UTC')"
MAX_ROWS: Final = 10_000
COLUMNS: Final = (
    Column("reason", "dimension"),
    Column("source", "dimension"),
    Column("network", "dimension"),
    Column("status", "dimension"),
    Column("currency", "dimension"),
    Column("conversions", "metric", "count"),
    Column("payout", "metric", "money", 6),
)


def accepted_within(spec: ReportSpec) -> tuple[list[str], dict[str, object]]:
    """Conditions and parameters: conversions of `spec.workspace` the edge accepted (`ts`)
    within `spec.start`..`spec.end`."""
    where = ["workspace_id = {workspace:String}"]
    parameters: dict[str, object] = {"workspace": spec.workspace}
    if spec.start is not None:
        where.append(f"ts >= {{start:{_TIME}}}")
        parameters["start"] = time_param(spec.start)
    if spec.end is not None:
        where.append(f"ts < {{end:{_TIME}}}")
        parameters["end"] = time_param(spec.end)
    return where, parameters


def build_query(spec: ReportSpec) -> Query:
    """The not-counted conversions of `spec.workspace` within `spec.start`..`spec.end`."""
    where, parameters = accepted_within(spec)
    where.append("NOT counted")
    sql = (
        "SELECT not_counted_reason AS reason, source, network_id AS network, status, currency,"
        " count() AS conversions, toDecimal128(sum(payout_micros), 6) / 1000000 AS payout\n"
        "FROM conversions_latest\n"
        f"WHERE {' AND '.join(where)}\n"
        "GROUP BY reason, source, network, status, currency\n"
        "ORDER BY conversions DESC, reason, source, network, status, currency\n"
        f"LIMIT {MAX_ROWS}"
    )
    return Query(sql, parameters, COLUMNS)
