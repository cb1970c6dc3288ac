"""Wall-clock time in a workspace timezone, as integer arithmetic on the hot path.

A local time is an `int`: milliseconds since 1970-01-01T00:00 *in the zone's wall clock*
(UTC epoch ms plus the zone's UTC offset at that instant). Hour, weekday and date then
fall out with integer division, so time conditions never touch datetime or zoneinfo.

zoneinfo is asked once per (zone, UTC hour): the offset is cached for the hour bucket when
it is the same at both ends of the bucket. An hour that contains a transition (DST, or a
zone whose transitions are not on the UTC hour, like Australia/Lord_Howe) is never cached
and is resolved exactly for every call, which costs microseconds for that one hour.
"""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from turnout.splitter.errors import SplitterError

HOUR_MS = 3_600_000
DAY_MS = 86_400_000
QUARTER_MS = 900_000
WEEK_HOURS = 168
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
# 1970-01-01 was a Thursday; with Monday = 0 the weekday of epoch day d is (d + 3) % 7.
EPOCH_WEEKDAY = 3
# Added to hours since the epoch to count hours of the week from Monday 00:00.
_WEEK_SHIFT = EPOCH_WEEKDAY * 24
# Buckets are only ever added for the hours being served, so the cache stays tiny; the
# bound is there for replays of old traffic that would otherwise grow it without end.
_MAX_BUCKETS = 256
_MS = timedelta(milliseconds=1)


def epoch_day(day: date) -> int:
    """Days since 1970-01-01 of a calendar date (the unit date-range conditions compare)."""
    return day.toordinal() - _EPOCH_ORDINAL


def hour_of(local_ms: int) -> int:
    return local_ms // HOUR_MS % 24


def weekday_of(local_ms: int) -> int:
    """Monday = 0 ... Sunday = 6."""
    return (local_ms // DAY_MS + EPOCH_WEEKDAY) % 7


class ZoneClock:
    """Converts UTC epoch ms to local ms for one IANA zone; shared by every table in it."""

    __slots__ = ("hours", "name", "offsets", "zone")

    def __init__(self, name: str) -> None:
        try:
            self.zone = ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise SplitterError(f"unknown timezone {name!r}") from None
        self.name = name
        # UTC hour -> offset ms, for hours without a transition.
        self.offsets: dict[int, int] = {}
        # UTC quarter hour -> local hour of the week (Monday 00:00 = 0), read inline by
        # decide(): every zone's offset today is a whole number of quarter hours, so a UTC
        # quarter falls in one local hour; quarters where that fails are never cached.
        self.hours: dict[int, int] = {}

    def offset_ms(self, utc_ms: int) -> int:
        """The zone's UTC offset at `utc_ms`, exactly (the slow path)."""
        moment = datetime.fromtimestamp(utc_ms // 1000, UTC).astimezone(self.zone)
        offset = moment.utcoffset()
        return 0 if offset is None else offset // _MS

    def local_ms(self, utc_ms: int) -> int:
        offset = self.offsets.get(utc_ms // HOUR_MS)
        if offset is None:
            return utc_ms + self._resolve(utc_ms)
        return utc_ms + offset

    def hour_of_week(self, utc_ms: int) -> int:
        """The local hour of the week, Monday 00:00 = 0 (decide's slow path)."""
        quarter = utc_ms // QUARTER_MS
        start = quarter * QUARTER_MS
        local = self.local_ms(start)
        hour = (local // HOUR_MS + _WEEK_SHIFT) % WEEK_HOURS
        if local - start == self.local_ms(start + QUARTER_MS - 1) - (start + QUARTER_MS - 1) and (
            local % QUARTER_MS == 0
        ):
            hours = self.hours
            if len(hours) >= _MAX_BUCKETS:
                hours.clear()  # a dict is safe to clear under concurrent readers
            hours[quarter] = hour
            return hour
        return (self.local_ms(utc_ms) // HOUR_MS + _WEEK_SHIFT) % WEEK_HOURS

    def _resolve(self, utc_ms: int) -> int:
        bucket = utc_ms // HOUR_MS
        start = bucket * HOUR_MS
        first = self.offset_ms(start)
        if first == self.offset_ms(start + HOUR_MS - 1000):
            offsets = self.offsets
            if len(offsets) >= _MAX_BUCKETS:
                offsets.clear()  # a dict is safe to clear under concurrent readers
            offsets[bucket] = first
            return first
        return self.offset_ms(utc_ms)


_clocks: dict[str, ZoneClock] = {}
_clocks_lock = threading.Lock()


def clock_for(name: str) -> ZoneClock:
    """The shared clock of a zone (created on first use; raises SplitterError if unknown)."""
    clock = _clocks.get(name)
    if clock is None:
        with _clocks_lock:
            clock = _clocks.get(name)
            if clock is None:
                clock = _clocks[name] = ZoneClock(name)
    return clock
