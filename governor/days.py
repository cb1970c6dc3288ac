"""Workspace-local days: the period of daily budgets and caps (SPEC §11: "per day in the
workspace timezone"), from an instant passed in.

A day is named `YYYY-MM-DD` (the meters' period, config/meters.py) and runs from its local
midnight to the next one, which is 23 or 25 hours away on a DST change.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo


def local_day(now_ms: int, timezone: str) -> dt.date:
    """The workspace-local date at `now_ms`."""
    return dt.datetime.fromtimestamp(now_ms / 1000, ZoneInfo(timezone)).date()


def day_range(day: dt.date, timezone: str) -> tuple[dt.datetime, dt.datetime]:
    """The UTC [start, end) of the local `day`."""
    zone = ZoneInfo(timezone)
    start = dt.datetime.combine(day, dt.time(), zone)
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), zone)
    return start.astimezone(dt.UTC), end.astimezone(dt.UTC)


def next_midnight_ms(now_ms: int, timezone: str) -> int:
    """The instant (epoch ms) the local day of `now_ms` ends."""
    _, end = day_range(local_day(now_ms, timezone), timezone)
    return int(end.timestamp() * 1000)
