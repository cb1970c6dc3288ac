"""The workspace-local day of a click, for daily meters: `YYYY-MM-DD` in its timezone.

Computed once per timezone and day: the answer is kept with the instants the day starts
and ends, so a click pays two integer comparisons until the zone's next midnight.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo


class Days:
    __slots__ = ("_zones",)

    def __init__(self) -> None:
        # timezone -> (first ms of the day, first ms of the next, the day)
        self._zones: dict[str, tuple[int, int, str]] = {}

    def day(self, timezone: str, now_ms: int) -> str:
        known = self._zones.get(timezone)
        if known is not None and known[0] <= now_ms < known[1]:
            return known[2]
        zone = ZoneInfo(timezone)
        local = datetime.fromtimestamp(now_ms / 1000, zone)
        start = datetime(local.year, local.month, local.day, tzinfo=zone)
        following = start.date() + timedelta(days=1)
        end = datetime(following.year, following.month, following.day, tzinfo=zone)
        day = start.date().isoformat()
        self._zones[timezone] = (int(start.timestamp() * 1000), int(end.timestamp() * 1000), day)
        return day

    def next_midnight_ms(self, timezone: str, now_ms: int) -> int:
        """The instant `timezone`'s day of `now_ms` ends."""
        self.day(timezone, now_ms)
        return self._zones[timezone][1]
