from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import given
from hypothesis import strategies as st

from turnout.ingest.batch import (
    Span,
    commit_plan,
    cut,
    dedup_token,
    reached,
    recorded_span,
    replays,
    span_metadata,
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


@given(_RANGES)
def test_a_recorded_span_reads_back(ranges: dict[tuple[str, int], tuple[int, int]]) -> None:
    assert recorded_span(span_metadata(ranges)) == {p: r for (_t, p), r in ranges.items()}


@given(st.text(max_size=40))
def test_metadata_not_ours_records_nothing(text: str) -> None:
    assert recorded_span(text) == {} or text.startswith("turnout-span:")


@pytest.mark.parametrize("metadata", [
    "", "turnout-span:", "turnout-span:0:5", "turnout-span:0:9-5", "turnout-span:0:1-2,0:3-4",
    "turnout-span:x:1-2", "turnout-span:0:-1-2", "other:0:1-2",
])
def test_malformed_metadata_records_nothing(metadata: str) -> None:
    assert recorded_span(metadata) == {}


@given(_RANGES, st.dictionaries(st.tuples(st.just("t"), st.integers(0, 5)), st.integers(0, 10**6)))
def test_the_plan_records_the_following_span_at_its_first_offsets(
    ranges: dict[tuple[str, int], tuple[int, int]], done: dict[tuple[str, int], int]
) -> None:
    following = Span(dict(ranges))
    plan = commit_plan(done, following)
    assert set(plan) == set(done) | set(ranges)
    for key, (offset, metadata) in plan.items():
        if key in ranges:
            assert offset == ranges[key][0]
            assert recorded_span(metadata) == {p: r for (_t, p), r in ranges.items()}
        else:
            assert (offset, metadata) == (done[key], "")
    # What a consumer taking over reads from that commit is the same span, to cut again.
    assert replays(plan) == [ranges]


def test_an_empty_following_batch_commits_plain_offsets() -> None:
    assert commit_plan({("t", 0): 5}, Span()) == {("t", 0): (5, "")}


def test_a_span_split_by_a_rebalance_or_committed_past_is_not_replayed() -> None:
    metadata = span_metadata({("t", 0): (10, 19), ("t", 1): (5, 8)})
    assert replays({("t", 0): (10, metadata)}) == []  # partition 1 is another consumer's
    assert replays({("t", 0): (10, metadata), ("t", 1): (9, "")}) == []  # 1 was committed
    assert replays({("t", 0): (10, metadata), ("t", 1): (5, metadata)}) == [
        {("t", 0): (10, 19), ("t", 1): (5, 8)}
    ]


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
