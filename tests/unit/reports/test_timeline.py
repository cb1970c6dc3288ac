from __future__ import annotations

import datetime as dt
from decimal import Decimal

from turnout.reports.query import Column
from turnout.reports.run import ReportResult
from turnout.reports.timeline import buckets, fill

UTC = dt.UTC


def test_hour_buckets_across_a_dst_change():
    keys = buckets("hour", dt.datetime(2024, 10, 26, 22, tzinfo=UTC),
                   dt.datetime(2024, 10, 27, 4, tzinfo=UTC), "Europe/Berlin")
    assert keys == ["2024-10-27T00:00:00+0200", "2024-10-27T01:00:00+0200",
                    "2024-10-27T02:00:00+0200", "2024-10-27T02:00:00+0100",
                    "2024-10-27T03:00:00+0100", "2024-10-27T04:00:00+0100"]


def test_date_buckets_and_fill():
    start, end = dt.datetime(2024, 3, 1, tzinfo=UTC), dt.datetime(2024, 3, 4, tzinfo=UTC)
    assert buckets("date", start, end, "UTC") == [dt.date(2024, 3, d) for d in (1, 2, 3)]
    columns = (Column("date", "dimension"), Column("clicks", "metric", "count"),
               Column("cost", "metric", "money", 6), Column("cr", "metric", "percent", 4))
    result = ReportResult(columns, [(dt.date(2024, 3, 2), 5, Decimal("1.5"), Decimal("20"))])
    rows = fill(result, "date", start, end, "UTC").rows
    assert rows == [(dt.date(2024, 3, 1), 0, Decimal(0), None),
                    (dt.date(2024, 3, 2), 5, Decimal("1.5"), Decimal("20")),
                    (dt.date(2024, 3, 3), 0, Decimal(0), None)]
