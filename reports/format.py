"""Rendering report results: JSON, CSV and an aligned text table.

Money and ratios leave as decimal strings ("12.50", "0.123456", "1150.00"), never floats:
JSON numbers are floats to most readers, and a float cannot hold 0.1 exactly. Money
totals keep 2 to 6 places (trailing zeros past the cents dropped); percents keep their
fixed places. Counts are JSON integers; a NULL ratio (zero denominator) is null / empty.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import orjson

from turnout.reports.query import Column
from turnout.reports.run import ReportResult


def decimal_text(value: Decimal, places: int, min_places: int) -> str:
    text = f"{value.quantize(Decimal(1).scaleb(-places)):f}"
    if places > min_places and "." in text:
        whole, frac = text.split(".")
        frac = frac.rstrip("0").ljust(min_places, "0")
        text = f"{whole}.{frac}" if frac else whole
    return text


def cell(value: Any, column: Column) -> Any:
    """A JSON-ready value: int, str or None."""
    if value is None:
        return None
    if isinstance(value, Decimal):
        money = column.kind in ("money", "money_rate")
        return decimal_text(value, column.places, 2 if money else column.places)
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def plain(result: ReportResult) -> list[dict[str, Any]]:
    names = [c.name for c in result.columns]
    return [{n: cell(v, c) for n, v, c in zip(names, row, result.columns, strict=True)}
            for row in result.rows]


def to_json(result: ReportResult, meta: Mapping[str, Any] | None = None) -> bytes:
    body: dict[str, Any] = dict(meta or {})
    body["columns"] = [{"name": c.name, "role": c.role, "kind": c.kind}
                       for c in result.columns]
    body["rows"] = plain(result)
    return orjson.dumps(body)


def to_csv(result: ReportResult) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([c.name for c in result.columns])
    for row in plain(result):
        writer.writerow(["" if v is None else v for v in row.values()])
    return out.getvalue()


def to_table(result: ReportResult) -> str:
    header = [c.name for c in result.columns]
    body = [["-" if v is None else str(v) for v in row.values()] for row in plain(result)]
    widths = [max([len(h)] + [len(r[i]) for r in body]) for i, h in enumerate(header)]
    right = [c.role == "metric" for c in result.columns]

    def line(cells: list[str]) -> str:
        parts = [c.rjust(w) if r else c.ljust(w) for c, w, r in zip(cells, widths, right,
                                                                    strict=True)]
        return "  ".join(parts).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(header), rule, *(line(r) for r in body)]) + "\n"
