"""Running report queries on a clickhouse-connect client (sync: call from a worker thread)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import ClickHouseError

from turnout.reports.errors import StoreError
from turnout.reports.query import Column, Query, build_query
from turnout.reports.spec import ReportSpec


@dataclass(frozen=True, slots=True)
class ReportResult:
    columns: tuple[Column, ...]
    rows: list[tuple[Any, ...]]

    def records(self) -> list[dict[str, Any]]:
        names = [c.name for c in self.columns]
        return [dict(zip(names, row, strict=True)) for row in self.rows]


def execute(client: Client, query: Query) -> ReportResult:
    try:
        result = client.query(query.sql, parameters=query.parameters)
    except ClickHouseError as exc:
        raise StoreError(f"ClickHouse: {exc}") from exc
    return ReportResult(query.columns, [tuple(row) for row in result.result_rows])


def run_report(client: Client, spec: ReportSpec) -> ReportResult:
    return execute(client, build_query(spec))
