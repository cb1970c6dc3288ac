from __future__ import annotations

from datetime import UTC, datetime

import pytest

from turnout.splitter.errors import SplitterError
from turnout.splitter.localtime import ZoneClock, clock_for, epoch_day, hour_of, weekday_of


def ms(*args: int) -> int:
    return int(datetime(*args, tzinfo=UTC).timestamp() * 1000)


def test_berlin_spring_forward():
    clock = ZoneClock("Europe/Berlin")
    # 2024-03-31 01:00 UTC: clocks go from 02:00 CET to 03:00 CEST.
    assert hour_of(clock.local_ms(ms(2024, 3, 31, 0, 59))) == 1
    assert hour_of(clock.local_ms(ms(2024, 3, 31, 1, 0))) == 3
    assert hour_of(clock.local_ms(ms(2024, 3, 31, 1, 30))) == 3
    # asked again, now answered from the cached hour buckets
    assert hour_of(clock.local_ms(ms(2024, 3, 31, 0, 59))) == 1
    assert hour_of(clock.local_ms(ms(2024, 3, 31, 1, 0))) == 3


def test_new_york_fall_back_repeats_an_hour():
    clock = ZoneClock("America/New_York")
    # 2024-11-03 06:00 UTC: 02:00 EDT becomes 01:00 EST, so 01:xx happens twice.
    assert hour_of(clock.local_ms(ms(2024, 11, 3, 5, 30))) == 1
    assert hour_of(clock.local_ms(ms(2024, 11, 3, 6, 30))) == 1
    assert hour_of(clock.local_ms(ms(2024, 11, 3, 7, 30))) == 2


def test_transition_inside_an_hour_bucket_is_exact():
    clock = ZoneClock("Australia/Lord_Howe")
    # 2024-10-06 02:00 local (+10:30) = 2024-10-05 15:30 UTC: clocks go to 02:30 (+11:00).
    before = clock.local_ms(ms(2024, 10, 5, 15, 29))
    after = clock.local_ms(ms(2024, 10, 5, 15, 31))
    assert (hour_of(before), before // 60_000 % 60) == (1, 59)
    assert (hour_of(after), after // 60_000 % 60) == (2, 31)
    assert ms(2024, 10, 5, 15, 0) // 3_600_000 not in clock.offsets


def test_weekday_and_epoch_day():
    # 2024-06-10 was a Monday; 1970-01-01 a Thursday
    assert weekday_of(ms(2024, 6, 10, 12)) == 0
    assert weekday_of(0) == 3
    assert weekday_of(ms(1969, 12, 31, 23)) == 2
    assert epoch_day(datetime(2024, 6, 10).date()) == ms(2024, 6, 10) // 86_400_000


def test_offset_cache_is_bounded():
    clock = ZoneClock("Asia/Tokyo")
    for hour in range(1000):
        clock.local_ms(hour * 3_600_000)
    assert 0 < len(clock.offsets) <= 256
    assert hour_of(clock.local_ms(ms(2024, 1, 1, 0))) == 9


def test_clocks_are_shared_and_unknown_zone_rejected():
    assert clock_for("Europe/Paris") is clock_for("Europe/Paris")
    with pytest.raises(SplitterError, match="unknown timezone"):
        clock_for("Mars/Olympus")
    with pytest.raises(SplitterError):
        clock_for("../etc/passwd")
