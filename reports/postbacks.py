"""The delivery rate of postbacks to traffic sources, by source and day (SPEC §11).

A postback is one conversion in one status sent to its source; the governor writes a row
per attempt into `postback_deliveries`. Per postback the report takes its first attempt's
day (in the report's time zone) and its latest attempt's outcome: delivered, failed (given
up) or pending (another attempt is scheduled). Postbacks the source's postback_percent left
out, and those not tried yet, made no attempt and are not in it. The API
(`/api/v1/postbacks`), `turnout report --postbacks` and the SQL in docs/analytics.md read
the same query.
"""

from __future__ import annotations

from typing import Final

from turnout.reports.not_counted import MAX_ROWS, accepted_within
from turnout.reports.query import Column, Query
from turnout.reports.spec import ReportSpec

COLUMNS: Final = (
    Column("date", "dimension"),
    Column("source", "dimension"),
    Column("attempted", "metric", "count"),
    Column("delivered", "metric", "count"),
    Column("failed", "metric", "count"),
    Column("pending", "metric", "count"),
    Column("attempts", "metric", "count"),
    Column("delivery_rate", "metric", "percent", 2),
)


def build_query(spec: ReportSpec) -> Query:
    """The postbacks of `spec.workspace` first tried within `spec.start`..`spec.end`."""
    where, parameters = accepted_within(spec, "first_at")
    bounds = where[1:]  # the workspace's condition is the inner query's WHERE
    having = f"\n      HAVING {' AND '.join(bounds)}" if bounds else ""
    sql = (
        "SELECT toDate(first_at, {tz:String}) AS date, traffic_source_id AS source,\n"
        "       count() AS attempted, countIf(last = 'delivered') AS delivered,\n"
        "       countIf(last = 'failed') AS failed, countIf(last = 'retry') AS pending,\n"
        "       sum(tries) AS attempts,\n"
        "       toDecimal128(round(toDecimal128(delivered, 12) * 100 / attempted, 2), 2)"
        " AS delivery_rate\n"
        "FROM (SELECT traffic_source_id, min(at) AS first_at,"
        " argMax(outcome, attempt) AS last, count() AS tries\n"
        "      FROM postback_deliveries FINAL\n"
        "      WHERE workspace_id = {workspace:String}\n"
        f"      GROUP BY traffic_source_id, click_id, txid, status{having})\n"
        "GROUP BY date, source\n"
        "ORDER BY date, source\n"
        f"LIMIT {MAX_ROWS}"
    )
    return Query(sql, {**parameters, "tz": spec.tz}, COLUMNS)
