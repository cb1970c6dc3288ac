"""Exchange rates in ClickHouse (fx_rates, ingest/migrations/0011_fx.sql): importing a
validated RateSet and reading the rates in force. Sync: call from a worker thread.

An import appends its rows under one version, above every earlier import of its days, so
each of its days is replaced as a whole (fx_rates_latest reads a day's latest import); the
rows are inserted in one block, so a day is never half replaced.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from decimal import Decimal
from typing import Final

from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import ClickHouseError

from turnout.config.fx_rates import RateSet
from turnout.reports.errors import StoreError

COLUMNS: Final = ("day", "currency", "base", "rate", "version", "imported_by")
MAX_LISTED: Final = 100_000


@dataclass(frozen=True, slots=True)
class Imported:
    base: str
    days: int
    rates: int
    version: int
    first: dt.date
    last: dt.date


@dataclass(frozen=True, slots=True)
class StoredRate:
    day: dt.date
    currency: str
    base: str
    rate: Decimal


def import_rates(client: Client, rates: RateSet, imported_by: str,
                 now_us: int | None = None) -> Imported:
    """Store `rates`, replacing their days; `now_us`: the clock (microseconds), for tests."""
    days = rates.days
    try:
        stored = client.query("SELECT max(version) FROM fx_rates WHERE day IN {days:Array(Date)}",
                              parameters={"days": list(days)}).result_rows
        clock = time.time_ns() // 1000 if now_us is None else now_us
        version = max(clock, int(stored[0][0] or 0) + 1)
        client.insert("fx_rates",
                      [[r.day, r.currency, rates.base, r.rate, version, imported_by]
                       for r in rates.rates], column_names=list(COLUMNS))
    except ClickHouseError as exc:
        raise StoreError(f"ClickHouse: {exc}") from exc
    return Imported(rates.base, len(days), len(rates.rates), version, days[0], days[-1])


def list_rates(client: Client, start: dt.date | None = None, end: dt.date | None = None,
               currencies: tuple[str, ...] = ()) -> list[StoredRate]:
    """The rates in force per day (the base itself left out), `start`..`end` inclusive."""
    where = ["currency != base"]
    parameters: dict[str, object] = {}
    if start is not None:
        where.append("day >= {start:Date}")
        parameters["start"] = start
    if end is not None:
        where.append("day <= {end:Date}")
        parameters["end"] = end
    if currencies:
        where.append("currency IN {currencies:Array(String)}")
        parameters["currencies"] = list(currencies)
    sql = (f"SELECT day, currency, base, rate FROM fx_rates_latest WHERE {' AND '.join(where)}"
           f" ORDER BY day, currency LIMIT {MAX_LISTED}")
    try:
        rows = client.query(sql, parameters=parameters).result_rows
    except ClickHouseError as exc:
        raise StoreError(f"ClickHouse: {exc}") from exc
    return [StoredRate(day, currency, base, rate) for day, currency, base, rate in rows]
