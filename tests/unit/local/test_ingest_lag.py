"""Records behind a consumer group, counted to the high watermark (tansu's ListOffsets
answers the last batch's base offset + 1: a lag counted to it missed that batch's rest)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from turnout.local.ingest_lag import records_behind


def test_counts_from_the_committed_offset_to_the_high_watermark() -> None:
    # One batch of 10 records at offsets 0-9: tansu lists 1 as the end, the fetch says 10.
    assert records_behind(end=10, start=0, committed=1) == 9
    assert records_behind(end=10, start=0, committed=10) == 0


def test_no_commit_counts_from_the_partition_start() -> None:
    assert records_behind(end=10, start=4, committed=-1) == 6


@given(st.integers(0, 10**6), st.integers(0, 10**6), st.integers(-1, 10**6))
def test_never_negative_and_zero_once_committed_to_the_end(end: int, start: int,
                                                           committed: int) -> None:
    behind = records_behind(end, min(start, end), committed)
    assert behind >= 0
    assert records_behind(end, min(start, end), end) == 0
    if committed <= min(start, end):
        assert behind == end - min(start, end)
