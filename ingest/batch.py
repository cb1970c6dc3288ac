"""What one consumed batch spans, the insert_deduplication_token derived from it, and how
a restart cuts the same batch again.

A batch is replayed exactly, or its rollups can be short: ClickHouse writes a `clicks`
insert as the table's part, then one part per materialized view. Killed in between, the
batch is uncommitted; replayed with the same rows and token, ClickHouse drops the block in
`clicks` and writes each view whatever it did not get (deduplicate_blocks_in_dependent_
materialized_views). "Same rows" needs the same boundaries: every click row stores its
batch's span (`span_label`, column ingest_batch), so the first batch after an assignment
finds the span its first records were stored under, if any, and is cut at it (`cut`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Iterable, Mapping, Sequence
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
    table: str, ranges: Mapping[Partition, tuple[int, int]], keys: Iterable[str],
    attempt: int = 0,
) -> str:
    """Token for insert_deduplication_token: the same batch retried gets the same token.

    The offsets say which messages; the digest of the row keys (in any order) says which
    rows survived filtering. Both matter: a replay cut at other offsets yields fewer rows
    (those stored by the first attempt, another batch to it, are dropped), and that smaller
    insert must not be dropped as a repeat of the old one. `attempt` (see insert_label)
    makes the token of an insert made again because ClickHouse kept the first token
    without its rows.
    """
    spans = insert_label(ranges, attempt)
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


def insert_label(ranges: Mapping[Partition, tuple[int, int]], attempt: int = 0) -> str:
    """The label of a batch's insert: its span, and for an insert made again under a new
    token (Pipeline.insert) its attempt after a '#'. A replay does not read such a label as
    its span (parse_label gives {}), so it drops those rows as stored by another insert:
    the rows a token kept without them were stored once, by that later insert."""
    label = span_label(ranges)
    return f"{label}#{attempt}" if attempt else label


Ranges = dict[Partition, tuple[int, int]]


def parse_label(label: str) -> Ranges:
    """What span_label wrote, read back; {} for anything else (rows stored before the
    column existed have '')."""
    ranges: Ranges = {}
    for item in label.split(","):
        topic, _sep, rest = item.rpartition("/")
        topic, _sep, partition = topic.rpartition("/")
        first, _sep, last = rest.partition("-")
        if not (topic and partition.isdecimal() and first.isdecimal() and last.isdecimal()):
            return {}
        key = (topic, int(partition))
        if int(first) > int(last) or key in ranges:
            return {}
        ranges[key] = (int(first), int(last))
    return ranges


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
    last: dict[Partition, int] = {}
    for r in batch:
        key = (r.topic, r.partition)
        last[key] = max(last.get(key, -1), r.offset)
    return all(last.get(key, -1) >= end for key, (_first, end) in ranges.items())


def firsts(batch: Sequence[Record]) -> dict[Partition, int]:
    """The lowest offset of each partition in `batch`."""
    found: dict[Partition, int] = {}
    for r in batch:
        key = (r.topic, r.partition)
        if key not in found or r.offset < found[key]:
            found[key] = r.offset
    return found


def replayed(labels: Iterable[str], starts: Mapping[Partition, int],
             assigned: Collection[Partition]) -> Ranges | None:
    """Of the ingest_batch labels stored with a fetched batch's first clicks, the span to
    cut it at: one that starts where this consumer starts (`starts`, per partition) in
    every partition of it fetched so far, and lies within the assignment (a span split
    by a rebalance cannot be replayed exactly). None when no label fits."""
    for label in sorted(set(labels)):
        ranges = parse_label(label)
        if (
            ranges
            and all(key in assigned for key in ranges)
            and any(key in starts for key in ranges)
            and all(ranges[key][0] == start for key, start in starts.items() if key in ranges)
        ):
            return ranges
    return None

