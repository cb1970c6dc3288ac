"""Timelines: a report by date or hour with every bucket of the range present."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from turnout.reports.errors import ParameterError
from turnout.reports.query import Column
from turnout.reports.run import ReportResult
from turnout.reports.spec import MAX_LIMIT


def buckets(bucket: str, start: dt.datetime, end: dt.datetime, tz: str) -> list[Any]:
    """Bucket keys exactly as the SQL spells them (dimensions.DIMENSIONS date / hour)."""
    zone = ZoneInfo(tz)
    keys: list[Any] = []
    if bucket == "date":
        day, last = start.astimezone(zone).date(), (end - dt.timedelta(microseconds=1))
        while day <= last.astimezone(zone).date() and len(keys) <= MAX_LIMIT:
            keys.append(day)
            day += dt.timedelta(days=1)
        return keys
    local = start.astimezone(zone)
    moment = local.replace(minute=0, second=0, microsecond=0).astimezone(dt.UTC)
    while moment < end and len(keys) <= MAX_LIMIT:
        label = moment.astimezone(zone).strftime("%Y-%m-%dT%H:00:00%z")
        if not keys or keys[-1] != label:
            keys.append(label)
        moment += dt.timedelta(hours=1)
    return keys


def _empty(column: Column) -> Any:
    if column.kind == "count":
        return 0
    if column.kind == "money":
        return Decimal("0.000000")
    return None


def fill(result: ReportResult, bucket: str, start: dt.datetime, end: dt.datetime,
         tz: str) -> ReportResult:
    """Add a zero row for each bucket without data; rows stay in time order."""
    keys = buckets(bucket, start, end, tz)
    if len(keys) > MAX_LIMIT:
        raise ParameterError(f"range: more than {MAX_LIMIT} {bucket} buckets")
    index = [c.name for c in result.columns].index(bucket)
    found = {row[index]: row for row in result.rows}
    rows = []
    for key in keys:
        row = found.pop(key, None)
        if row is None:
            row = tuple(key if i == index else _empty(c) for i, c in enumerate(result.columns))
        rows.append(row)
    rows.extend(found.values())  # rows the generated keys missed still count
    return ReportResult(result.columns, rows)
