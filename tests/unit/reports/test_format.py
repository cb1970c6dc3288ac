from __future__ import annotations

import datetime as dt
from decimal import Decimal

import orjson

from turnout.reports import format as fmt
from turnout.reports.query import Column
from turnout.reports.run import ReportResult

COLUMNS = (Column("campaign", "dimension"), Column("date", "dimension"),
           Column("clicks", "metric", "count"), Column("revenue", "metric", "money", 6),
           Column("epc", "metric", "money_rate", 6), Column("roi", "metric", "percent", 2))
RESULT = ReportResult(COLUMNS, [
    ("c1", dt.date(2024, 3, 10), 4, Decimal("12.500000"), Decimal("3.125000"),
     Decimal("3025.00")),
    ("c2", dt.date(2024, 3, 10), 0, Decimal("0.000000"), None, None),
])


def test_decimal_text():
    assert fmt.decimal_text(Decimal("12.500000"), 6, 2) == "12.50"
    assert fmt.decimal_text(Decimal("0.123456"), 6, 2) == "0.123456"
    assert fmt.decimal_text(Decimal("-3"), 2, 2) == "-3.00"
    assert fmt.decimal_text(Decimal("33.3333"), 4, 4) == "33.3333"


def test_json_money_is_strings():
    body = orjson.loads(fmt.to_json(RESULT, {"workspace": "w"}))
    assert body["rows"][0] == {"campaign": "c1", "date": "2024-03-10", "clicks": 4,
                               "revenue": "12.50", "epc": "3.125", "roi": "3025.00"}
    assert body["rows"][1]["epc"] is None and body["workspace"] == "w"


def test_csv_and_table():
    assert fmt.to_csv(RESULT).splitlines() == [
        "campaign,date,clicks,revenue,epc,roi", "c1,2024-03-10,4,12.50,3.125,3025.00",
        "c2,2024-03-10,0,0.00,,"]
    lines = fmt.to_table(RESULT).splitlines()
    assert lines[0].split() == ["campaign", "date", "clicks", "revenue", "epc", "roi"]
    assert lines[3].endswith("-        -")  # nulls shown as -, metrics right-aligned
    assert len({len(line) for line in lines[:3]}) == 1
