from __future__ import annotations

from turnout.ingest.batch import Span, dedup_token


def test_span_tracks_first_and_last_offset_per_partition() -> None:
    span = Span()
    for offset in (7, 3, 9):
        span.add("t", 0, offset)
    span.add("t", 2, 100)
    assert span.ranges == {("t", 0): (3, 9), ("t", 2): (100, 100)}
    assert span.next_offsets() == {("t", 0): 10, ("t", 2): 101}
    assert not Span()


def test_the_same_batch_gets_the_same_token_whatever_the_dict_order() -> None:
    a = dedup_token("clicks", {("t", 1): (5, 9), ("t", 0): (0, 4)}, ["x", "y"])
    b = dedup_token("clicks", {("t", 0): (0, 4), ("t", 1): (5, 9)}, ["x", "y"])
    assert a == b
    assert a.startswith("clicks:t/0/0-4,t/1/5-9:")


def test_fewer_surviving_rows_from_the_same_offsets_get_a_new_token() -> None:
    # After a crash the same offsets can yield only the rows not yet stored; that insert
    # must not be dropped as a repeat of the earlier, larger one.
    ranges = {("t", 0): (0, 99)}
    assert dedup_token("clicks", ranges, ["a", "b"]) != dedup_token("clicks", ranges, ["b"])
    assert dedup_token("clicks", ranges, ["ab"]) != dedup_token("clicks", ranges, ["a", "b"])
    assert dedup_token("clicks", ranges, ["a"]) != dedup_token("events", ranges, ["a"])
