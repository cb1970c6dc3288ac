from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import given
from hypothesis import strategies as st

from turnout.ingest.batch import (
    Span,
    cut,
    dedup_token,
    firsts,
    insert_label,
    parse_label,
    reached,
    replayed,
    span_label,
)


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


@dataclass(frozen=True)
class Rec:
    topic: str
    partition: int
    offset: int
    key: bytes | None = None
    value: bytes = b""


_RANGES = st.dictionaries(
    st.tuples(st.just("t"), st.integers(0, 5)),
    st.tuples(st.integers(0, 10**12), st.integers(0, 1000)).map(lambda p: (p[0], p[0] + p[1])),
    min_size=1, max_size=6,
)


def test_keys_in_another_order_are_the_same_batch() -> None:
    ranges = {("t", 0): (0, 9), ("t", 1): (0, 9)}
    assert dedup_token("clicks", ranges, ["a", "b"]) == dedup_token("clicks", ranges, ["b", "a"])


spans = st.dictionaries(
    st.tuples(st.from_regex(r"[A-Za-z0-9._-]{1,20}", fullmatch=True), st.integers(0, 999)),
    st.tuples(st.integers(0, 10**12), st.integers(0, 1000)).map(lambda p: (p[0], p[0] + p[1])),
    min_size=1, max_size=6,
)


@given(spans)
def test_a_stored_label_reads_back_as_its_span(
    ranges: dict[tuple[str, int], tuple[int, int]],
) -> None:
    assert parse_label(span_label(ranges)) == ranges


@pytest.mark.parametrize("label", [
    "", "t/0", "t/0/5", "t/0/9-5", "t/0/1-2,t/0/3-4", "t/x/1-2", "t/0/-1-2", "/0/1-2", "t/0/1-2,",
])
def test_labels_not_written_by_span_label_read_as_no_span(label: str) -> None:
    assert parse_label(label) == {}


@given(spans, st.integers(1, 1_000))
def test_the_label_of_an_insert_made_again_is_no_span_and_its_token_differs(
    ranges: dict[tuple[str, int], tuple[int, int]], attempt: int,
) -> None:
    # A replay drops rows under such a label as another insert's (they were stored once).
    assert insert_label(ranges) == span_label(ranges)
    assert parse_label(insert_label(ranges, attempt)) == {}
    assert dedup_token("clicks", ranges, ["a"], attempt) != dedup_token("clicks", ranges, ["a"])


@given(st.text(max_size=40))
def test_any_text_parses_or_is_no_span(text: str) -> None:
    ranges = parse_label(text)
    assert ranges == {} or parse_label(span_label(ranges)) == ranges


def test_the_label_that_starts_where_the_consumer_starts_is_the_replay() -> None:
    mine = span_label({("t", 0): (10, 19), ("t", 1): (5, 8)})
    older = span_label({("t", 0): (0, 9)})  # a click of it was replayed into this batch
    starts = {("t", 0): 10, ("t", 1): 5}
    assigned = {("t", 0), ("t", 1), ("t", 2)}
    assert replayed([older, mine, ""], starts, assigned) == {("t", 0): (10, 19), ("t", 1): (5, 8)}
    assert replayed([older, ""], starts, assigned) is None
    # Partition 1 went to another consumer: the batch cannot be cut again exactly.
    assert replayed([mine], {("t", 0): 10}, {("t", 0)}) is None
    # Not yet fetched from partition 1: still the batch (cut waits for the rest of it).
    assert replayed([mine], {("t", 0): 10}, assigned) == parse_label(mine)
    assert replayed([mine], {("t", 0): 11, ("t", 1): 5}, assigned) is None


def test_firsts_are_the_lowest_offset_per_partition() -> None:
    batch = [Rec("t", 1, 7), Rec("t", 0, 4), Rec("t", 1, 3), Rec("t", 0, 5)]
    assert firsts(batch) == {("t", 0): 4, ("t", 1): 3}
    assert reached(batch, {("t", 0): (4, 5), ("t", 1): (3, 7)})
    assert not reached(batch, {("t", 0): (4, 6)})
    assert not reached(batch, {("t", 2): (0, 0)})


@given(_RANGES, st.lists(st.tuples(st.integers(0, 6), st.integers(0, 40)), max_size=60))
def test_cut_keeps_exactly_the_span_and_rewinds_to_the_first_left_out(
    ranges: dict[tuple[str, int], tuple[int, int]], extra: list[tuple[int, int]]
) -> None:
    inside = [Rec("t", p, o) for (_t, p), (first, last) in ranges.items()
              for o in range(first, min(last, first + 30) + 1)]
    small = {key: (first, min(last, first + 30)) for key, (first, last) in ranges.items()}
    outside = [Rec("t", p, small.get(("t", p), (0, -1))[1] + 1 + d) for p, d in extra]
    fetched = sorted([*inside, *outside], key=lambda r: (r.offset, r.partition))
    kept, rewind = cut(fetched, small)
    assert sorted(kept, key=lambda r: (r.partition, r.offset)) == sorted(
        inside, key=lambda r: (r.partition, r.offset))
    assert reached(kept, small)
    for (topic, partition), offset in rewind.items():
        assert offset == min(r.offset for r in outside if r.partition == partition)
        assert topic == "t"
    assert set(rewind) == {("t", p) for p, _d in extra}
