"""What one consumed batch spans, the insert_deduplication_token derived from it, and the
span's record in Kafka (offset-commit metadata) that lets a restart cut the same batch.

A batch is replayed exactly, or its rollups can be short: ClickHouse writes a `clicks`
insert as the table's part, then one part per materialized view. Killed in between, the
batch is uncommitted; replayed with the same rows and token, ClickHouse drops the block in
`clicks` and writes each view whatever it did not get (deduplicate_blocks_in_dependent_
materialized_views). "Same rows" needs the same boundaries, so before a batch is written
its span is committed as metadata of the offsets it starts at (`commit_plan`), and the
first batch after an assignment is cut at that span (`cut`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from turnout.ingest.dlq import Record

Partition = tuple[str, int]  # (topic, partition)



@dataclass(slots=True)
class Span:
    """Offsets of one batch, per partition: first and last consumed."""

    ranges: dict[Partition, tuple[int, int]] = field(default_factory=dict)

    def add(self, topic: str, partition: int, offset: int) -> None:
        key = (topic, partition)
        first, last = self.ranges.get(key, (offset, offset))
        self.ranges[key] = (min(first, offset), max(last, offset))

    def next_offsets(self) -> dict[Partition, int]:
        """The offsets to commit once everything in the span is stored."""
        return {key: last + 1 for key, (_first, last) in self.ranges.items()}

    def __bool__(self) -> bool:
        return bool(self.ranges)


def dedup_token(
    table: str, ranges: Mapping[Partition, tuple[int, int]], keys: Iterable[str]
) -> str:
    """Token for insert_deduplication_token: the same batch retried gets the same token.

    The offsets say which messages; the digest of the row keys (in any order) says which
    rows survived filtering. Both matter: after a crash the same offsets can yield fewer rows (some were
    already stored), and that smaller insert must not be dropped as a repeat of the old one.
    """
    spans = span_label(ranges)
    digest = hashlib.blake2b(digest_size=12)
    # Sorted: a replay cut at the same span may get its partitions' records interleaved in
    # another order, and is still the same batch.
    for key in sorted(keys):
        digest.update(key.encode())
        digest.update(b"\0")
    return f"{table}:{spans}:{digest.hexdigest()}"


def span_label(ranges: Mapping[Partition, tuple[int, int]]) -> str:
    """The batch's offsets as text: stored with each click row (column ingest_batch), so a
    replay can tell its own first attempt's rows from clicks stored by other inserts."""
    return ",".join(
        f"{topic}/{partition}/{first}-{last}"
        for (topic, partition), (first, last) in sorted(ranges.items())
    )


_MARK = "turnout-span:"


def recorded_span(metadata: str) -> dict[int, tuple[int, int]]:
    """Partition -> (first, last) of the span `commit_plan` recorded; {} for anything else
    (no record, or metadata some other client wrote)."""
    if not metadata.startswith(_MARK):
        return {}
    ranges: dict[int, tuple[int, int]] = {}
    for item in metadata[len(_MARK):].split(","):
        partition, _sep, bounds = item.partition(":")
        first, _sep, last = bounds.partition("-")
        if not (partition.isdecimal() and first.isdecimal() and last.isdecimal()):
            return {}
        if int(first) > int(last) or int(partition) in ranges:
            return {}
        ranges[int(partition)] = (int(first), int(last))
    return ranges


def span_metadata(ranges: Mapping[Partition, tuple[int, int]]) -> str:
    """What recorded_span reads back: the partitions and offsets of one topic's batch."""
    return _MARK + ",".join(
        f"{partition}:{first}-{last}"
        for (_topic, partition), (first, last) in sorted(ranges.items())
    )


def commit_plan(
    done: Mapping[Partition, int], following: Span
) -> dict[Partition, tuple[int, str]]:
    """Offsets and metadata to commit before `following` is written: the offsets `done`
    (of the batch just stored, may be empty), and at the first offset of every partition
    of `following` its span, so a consumer that takes over after a crash cuts the same
    batch. Partitions of `done` that `following` lacks get empty metadata (nothing to cut).
    """
    metadata = span_metadata(following.ranges) if following else ""
    plan = {partition: (offset, "") for partition, offset in done.items()}
    for partition, (first, _last) in following.ranges.items():
        plan[partition] = (first, metadata)
    return plan


def cut(
    batch: Sequence[Record], ranges: Mapping[Partition, tuple[int, int]]
) -> tuple[list[Record], dict[Partition, int]]:
    """The records of `batch` inside `ranges`, in order, and per partition the first offset
    left out (where to seek back to, so nothing is skipped)."""
    kept: list[Record] = []
    rewind: dict[Partition, int] = {}
    for record in batch:
        key = (record.topic, record.partition)
        bounds = ranges.get(key)
        if bounds is not None and bounds[0] <= record.offset <= bounds[1]:
            kept.append(record)
        elif key not in rewind or record.offset < rewind[key]:
            rewind[key] = record.offset
    return kept, rewind


def reached(batch: Sequence[Record], ranges: Mapping[Partition, tuple[int, int]]) -> bool:
    """Whether `batch` holds every partition's last offset of `ranges`."""
    last = {(r.topic, r.partition): r.offset for r in batch}
    return all(last.get(key, -1) >= end for key, (_first, end) in ranges.items())


Ranges = dict[Partition, tuple[int, int]]


def replays(committed: Mapping[Partition, tuple[int, str]]) -> list[Ranges]:
    """The recorded spans to cut again, from the committed (offset, metadata) of the
    partitions just assigned: each span whose every partition is among them, committed at
    the span's first offset (so it was never stored in full, or at least never committed).
    A span split by a rebalance cannot be replayed exactly, and is not cut."""
    found: dict[str, Ranges] = {}
    for (topic, _partition), (_offset, metadata) in committed.items():
        if metadata in found:
            continue
        ranges = {(topic, p): bounds for p, bounds in recorded_span(metadata).items()}
        if ranges and all(
            committed.get(key, (-1, ""))[0] == first and committed[key][1] == metadata
            for key, (first, _last) in ranges.items()
        ):
            found[metadata] = ranges
    return [found[metadata] for metadata in sorted(found)]
