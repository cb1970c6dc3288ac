"""Clicks: ids already stored by other batches are dropped before the insert, so replays
never reach the rollups twice; the ids a batch's own first attempt stored are kept, so its
replay is the same insert (ingest/batch.py says why that matters)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from typing import Any

from turnout.events import Click
from turnout.ingest import records, validate
from turnout.ingest.batch import Partition, Ranges, Span, firsts, replayed, span_label
from turnout.ingest.dlq import Producer, Record
from turnout.ingest.pipelines import Insert, Pipeline, Prepared
from turnout.ingest.settings import IngestSettings
from turnout.ingest.store import Store
from turnout.ingest.stored import StoredIds

# The first records of each partition whose stored ingest_batch is asked for after an
# assignment: the first one may have been dropped by its batch (stored by another).
REPLAY_PROBES = 16
# A workspace's floor is read from this far below a batch's oldest click, so clicks that
# arrive out of order by less than that stay above it.
FLOOR_MARGIN_MS = 600_000


class ClickPipeline(Pipeline[Click, Click]):
    """Memory answers for most clicks (ingest/stored.py): the ids of every batch prepared so
    far count as stored from then on, because writes run one at a time and in order. The
    rest (clicks not newer than their workspace's floor) are asked of ClickHouse on the
    look-up connection, starting when the batch is prepared, while the batch before it may
    still be inserting; that batch's ids are in memory, and every earlier batch is stored,
    so the union is exactly what is in the table when this batch inserts.
    """

    table = "clicks"
    exact_replay = True  # clicks feeds the rollups' materialized views (migration 0006)

    def __init__(
        self, store: Store, producer: Producer, settings: IngestSettings, stop: asyncio.Event
    ) -> None:
        super().__init__(store, producer, settings, stop)
        self.stored = StoredIds(settings.click_memory)

    def check(self, batch: Sequence[Record]) -> list[Click | validate.Invalid]:
        return validate.clicks([record.value for record in batch])

    def columns(self, rows: Sequence[Click], label: str) -> list[list[Any]]:
        return records.click_columns(rows, label)

    def keys(self, rows: Sequence[Click]) -> Iterable[str]:
        return (c.click_id for c in rows)

    def stored_keys(self, rows: Sequence[Click]) -> set[str]:
        return set(self.store.stored_click_batches(rows))

    def forget(self, partitions: set[Partition]) -> None:
        self.stored.reset_floors()

    def assigned(self, partitions: set[Partition]) -> None:
        self.stored.reset_floors()

    async def replay_span(self, batch: Sequence[Record], assigned: set[Partition]
                          ) -> Ranges | None:
        starts = firsts(batch)
        probes = [r for r in batch if r.offset < starts[(r.topic, r.partition)] + REPLAY_PROBES]
        clicks = [c for c in self.check(probes) if not isinstance(c, validate.Invalid)]
        if not clicks:
            return None
        labels = await self.retry("replay look-up", self.store.stored_click_batches, clicks)
        return replayed(labels.values(), starts, assigned)

    def prepare(self, batch: Sequence[Record], span: Span) -> Prepared[Click]:
        clicks, dead = self.decode(batch)
        clicks = records.first_per_key(clicks)
        lookup = self.settings.click_lookup
        if lookup:
            clicks = [c for c in clicks if c.click_id not in self.stored]
        prepared = Prepared(span, clicks, dead)
        if not clicks:
            return prepared
        if lookup:
            prepared.lookup = self._start_look_up(clicks)
            self.stored.add(clicks)
        prepared.insert = self.encode(clicks, span)
        return prepared

    async def finish(self, prepared: Prepared[Click]) -> Insert | None:
        """Without the clicks the look-up found stored by another batch; the same insert
        if it found none (or only rows of this batch's own first attempt)."""
        if prepared.lookup is None:
            return prepared.insert
        stored = await prepared.lookup
        own = span_label(prepared.span.ranges)
        kept = [c for c in prepared.items if stored.get(c.click_id, own) == own]
        if len(kept) == len(prepared.items):
            return prepared.insert
        return self.encode(kept, prepared.span)

    def _start_look_up(self, clicks: Sequence[Click]) -> asyncio.Future[dict[str, str]] | None:
        """The look-up of those `clicks` memory cannot answer for, if any."""
        stored = self.stored
        missing = stored.missing_floors(clicks)
        if missing:
            return asyncio.ensure_future(self._look_up(clicks, missing, stored.generation))
        unsure = stored.unsure(clicks)
        if not unsure:
            return None
        return asyncio.ensure_future(
            self.retry("click look-up", self.store.stored_click_batches, unsure)
        )

    async def _look_up(
        self, clicks: Sequence[Click], missing: set[str], generation: int
    ) -> dict[str, str]:
        """Read the floors of `missing` workspaces, then look up the clicks under them."""
        since = min(c.ts_ms for c in clicks if c.workspace_id in missing) - FLOOR_MARGIN_MS
        floors = await self.retry("click floors", self.store.latest_click_ts, missing, since)
        self.stored.set_floors(floors, generation)
        unsure = self.stored.unsure(clicks, floors)
        if not unsure:
            return {}
        return await self.retry("click look-up", self.store.stored_click_batches, unsure)
