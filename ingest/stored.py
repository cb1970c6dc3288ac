"""Which clicks of a batch may already be in `clicks`, answered from memory where it can be.

The rollups stay exact only if a click id already stored never reaches `clicks` again
(migrations 0002, 0006). Asking ClickHouse for every batch cost more CPU than building
the batch; most batches need no question at all:

- an id this pipeline stored (or is about to store: writes run in order) is stored;
- a click newer than every click of its workspace stored by anyone else cannot be stored
  unless this pipeline stored it.

The second rule stands on two facts. A click id maps to one partition (it is the Kafka
key), so while this consumer owns a partition nobody else stores that partition's clicks;
and a click's `ts_ms` travels with it, so a replay carries the ts of the stored row. The
`floor` of a workspace is read from ClickHouse once per assignment (after every
rebalance): the newest stored ts of that workspace, at or after the ts asked about. A
click above its workspace's floor that this pipeline has not stored is new. Everything
else is `unsure` and goes to the look-up query.

Memory is bounded: ids are kept in buckets of their ts; past `capacity` the oldest bucket
is dropped, and clicks at or below its end count as unsure again.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from turnout.events import Click

BUCKET_MS = 60_000
_NO_FLOOR = 1 << 63


class StoredIds:
    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._ids: set[str] = set()
        self._buckets: dict[int, list[str]] = {}
        # Ids of clicks with ts below this may have been dropped from memory.
        self._forgotten_below = 0
        self._floors: dict[str, int] = {}
        # Bumped on every rebalance: floors read under an older assignment are not kept.
        self.generation = 0

    def __contains__(self, click_id: str) -> bool:
        return click_id in self._ids

    def __len__(self) -> int:
        return len(self._ids)

    def reset_floors(self) -> None:
        """The assignment changed: another consumer may have stored clicks of partitions
        this one gets now, so every floor must be read again."""
        self._floors.clear()
        self.generation += 1

    def missing_floors(self, clicks: Iterable[Click]) -> set[str]:
        """Workspaces of `clicks` whose floor is not known under this assignment."""
        floors = self._floors
        return {c.workspace_id for c in clicks if c.workspace_id not in floors}

    def set_floors(self, floors: Mapping[str, int], generation: int) -> None:
        if generation == self.generation:
            self._floors.update(floors)

    def unsure(self, clicks: Sequence[Click], read: Mapping[str, int] | None = None
               ) -> list[Click]:
        """Of `clicks` (none of them stored by this pipeline), those that may be stored:
        not newer than their workspace's floor (`read` holds floors just read), or so old
        that this pipeline may have forgotten storing them. No floor counts as unsure."""
        floors = self._floors if read is None else {**self._floors, **read}
        forgotten = self._forgotten_below
        return [
            c for c in clicks
            if c.ts_ms <= floors.get(c.workspace_id, _NO_FLOOR) or c.ts_ms < forgotten
        ]

    def add(self, clicks: Iterable[Click]) -> None:
        """Clicks that are stored, or will be by a write already queued."""
        ids, buckets = self._ids, self._buckets
        for click in clicks:
            if click.click_id not in ids:
                ids.add(click.click_id)
                bucket = click.ts_ms // BUCKET_MS
                members = buckets.get(bucket)
                if members is None:
                    buckets[bucket] = [click.click_id]
                else:
                    members.append(click.click_id)
        while len(ids) > self.capacity and len(buckets) > 1:
            oldest = min(buckets)
            ids.difference_update(buckets.pop(oldest))
            self._forgotten_below = max(self._forgotten_below, (oldest + 1) * BUCKET_MS)
