"""What one consumed batch spans, and the insert_deduplication_token derived from it."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

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

    The offsets say which messages; the digest of the row keys says which rows survived
    filtering. Both matter: after a crash the same offsets can yield fewer rows (some were
    already stored), and that smaller insert must not be dropped as a repeat of the old one.
    """
    spans = ",".join(
        f"{topic}/{partition}/{first}-{last}"
        for (topic, partition), (first, last) in sorted(ranges.items())
    )
    digest = hashlib.blake2b(digest_size=12)
    for key in keys:
        digest.update(key.encode())
        digest.update(b"\0")
    return f"{table}:{spans}:{digest.hexdigest()}"
