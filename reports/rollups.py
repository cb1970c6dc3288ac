"""Which click rollup (ingest/migrations/0006_report_rollups.sql) can serve a report.

A rollup serves the click side of a report when every dimension the report groups or
filters by is one of its keys and its time bucket can express the report's range and time
dimensions exactly; otherwise the report reads raw `clicks`. Both paths give identical
numbers (tests/integration/test_reports.py runs every report both ways).

Time: buckets are UTC hours (clicks_geo, small: the common campaign x country reports) or
UTC quarter hours (clicks_wide). A workspace-local hour or day is a whole number of
quarter hours in every zone the tz database has used since 1980 (all offsets are
multiples of 15 minutes: India +5:30, Nepal +5:45, Chatham +12:45), but of whole hours
only where the offset is: so Berlin days come from clicks_geo, India days from
clicks_wide. zone_fits checks the zone rather than trusting that, so an odd offset falls
back to raw instead of mis-bucketing. Clicks before 1980 are assumed not to exist.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache
from typing import Final
from zoneinfo import ZoneInfo

from turnout.reports.dimensions import TIME_DIMENSIONS
from turnout.reports.spec import ReportSpec

_EARLIEST: Final = dt.datetime(1980, 1, 1, tzinfo=dt.UTC)


@dataclass(frozen=True, slots=True)
class Rollup:
    table: str
    dimensions: frozenset[str]  # report dimension names (dimensions.DIMENSIONS) it keys by
    bucket_s: int  # width of its UTC time buckets


_GEO: Final = Rollup("clicks_geo", frozenset({"workspace", "campaign", "country"}), 3600)
_WIDE: Final = Rollup("clicks_wide", frozenset({
    "workspace", "campaign", "graph_version", "rule", "destination", "offer", "lander",
    "funnel", "funnel_step", "source", "network", "country", "device", "os", "browser",
}), 900)
# Smallest first: the first that covers a report serves it.
ROLLUPS: Final = (_GEO, _WIDE)
FIXED_TERMS: Final = "fixed_cost_terms"


def _aligned(moment: dt.datetime | None, bucket_s: int) -> bool:
    return moment is None or moment.timestamp() % bucket_s == 0


@lru_cache(maxsize=256)
def zone_fits(tz: str, bucket_s: int) -> bool:
    """Every UTC offset the zone has had since 1980 (and has announced) is a whole number
    of buckets. An offset holds for weeks at least (the shortest, Morocco's Ramadan
    suspensions, about a month), so sampling weekly finds them all; once per zone."""
    zone = ZoneInfo(tz)
    moment = _EARLIEST
    last = dt.datetime.now(dt.UTC) + dt.timedelta(days=3 * 366)
    while moment <= last:
        offset = moment.astimezone(zone).utcoffset()
        if offset is None or offset.total_seconds() % bucket_s:
            return False
        moment += dt.timedelta(days=7)
    return True


def choose_rollup(spec: ReportSpec) -> Rollup | None:
    """The smallest rollup that gives this report's click numbers exactly, or None (raw)."""
    if spec.force_raw:
        return None
    used = {*spec.group_by, *(name for name, _ in spec.filters)}
    local = bool(used & set(TIME_DIMENSIONS))
    rest = used - set(TIME_DIMENSIONS)
    for rollup in ROLLUPS:
        if (rest <= rollup.dimensions and _aligned(spec.start, rollup.bucket_s)
                and _aligned(spec.end, rollup.bucket_s)
                and not (local and not zone_fits(spec.tz, rollup.bucket_s))):
            return rollup
    return None
