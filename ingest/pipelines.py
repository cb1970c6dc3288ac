"""One pipeline per topic: decode a batch, store it, and say which offsets may be committed.

Two steps per batch: `prepare` (decode and validate, pure CPU, on the event loop) and
`write` (look-ups, insert and dead letters, mostly waiting on ClickHouse in a worker
thread). The consumer prepares batch N+1 while batch N is being written, so the two cores
work at once; writes themselves stay strictly in order, one at a time.

A pipeline returns offsets only once every message below them is in ClickHouse or in the
DLQ. While ClickHouse fails it retries the same rows with the same dedup token (backing
off), so nothing moves and nothing is committed; a stop request abandons the batch
uncommitted, and the next consumer of the partition starts from the last commit.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, TypeVar

from turnout.events import Click
from turnout.ingest import records, validate
from turnout.ingest.batch import Partition, Span, dedup_token
from turnout.ingest.dlq import DeadLetter, Producer, Record, letter, send_letters
from turnout.ingest.settings import IngestSettings
from turnout.ingest.store import Store
from turnout.ingest.stored import StoredIds

log = logging.getLogger(__name__)
T = TypeVar("T")
# A workspace's floor is read from this far below a batch's oldest click, so clicks that
# arrive out of order by less than that stay above it.
FLOOR_MARGIN_MS = 600_000


class Abandoned(Exception):
    """Stop was requested while the batch was not yet stored; it stays uncommitted."""


def wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass(slots=True)
class Prepared:
    """A batch after `prepare`: what `write` stores, and the messages for the DLQ."""

    span: Span
    items: Sequence[Any]
    dead: list[DeadLetter] = field(default_factory=list)
    body: bytes = b""  # the rows to insert, Native-encoded (Store.encode)
    token: str = ""
    # Clicks: the look-up under way of the ids that may be stored already.
    lookup: asyncio.Future[set[str]] | None = None

    def discard(self) -> None:
        """Stop work started for a batch that will not be written (or is written)."""
        if self.lookup is not None and not self.lookup.done():
            self.lookup.cancel()


class Pipeline:
    topic: str

    def __init__(
        self, store: Store, producer: Producer, settings: IngestSettings, stop: asyncio.Event
    ) -> None:
        self.store = store
        self.producer = producer
        self.settings = settings
        self.stop = stop

    def prepare(self, batch: Sequence[Record], span: Span) -> Prepared:
        """The CPU-bound part of a batch; it must not depend on earlier batches' writes."""
        return Prepared(span, batch)

    async def write(self, prepared: Prepared) -> dict[Partition, int]:
        """Store a prepared batch; the offsets that may be committed once it returns."""
        raise NotImplementedError

    async def process(self, batch: Sequence[Record], span: Span) -> dict[Partition, int]:
        return await self.write(self.prepare(batch, span))

    def has_pending(self) -> bool:
        return False

    def forget(self, partitions: set[Partition]) -> None:
        """The partitions were revoked: drop whatever is held for them."""

    def assigned(self, partitions: set[Partition]) -> None:
        """The partitions were assigned (after a rebalance)."""

    def committed(self, offsets: dict[Partition, int]) -> None:
        """Kafka acknowledged the commit of these offsets."""

    async def retry(self, what: str, call: Callable[..., T], *args: Any) -> T:
        """Run a blocking call in a thread until it succeeds, backing off between tries."""
        delay = self.settings.retry_initial_s
        while True:
            try:
                return await asyncio.to_thread(call, *args)
            except Exception as exc:
                # Not only ClickHouse errors: chdb and the HTTP transport raise several
                # families, and any of them means "not stored yet".
                log.warning("%s failed (%s); retrying in %.1fs", what, exc, delay)
            if self.stop.is_set():
                raise Abandoned(what)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stop.wait(), delay)
            if self.stop.is_set():
                raise Abandoned(what)
            delay = min(delay * 2, self.settings.retry_max_s)

    async def send_dead(self, letters: list[DeadLetter]) -> None:
        if not letters:
            return
        delay = self.settings.retry_initial_s
        while True:
            try:
                await send_letters(self.producer, self.settings.topic_dlq, letters)
                return
            except Exception as exc:
                log.warning("DLQ send failed (%s); retrying in %.1fs", exc, delay)
            if self.stop.is_set():
                raise Abandoned("dlq")
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.settings.retry_max_s)

    def decode(
        self, batch: Sequence[Record],
        check: Callable[[Sequence[bytes | None]], list[validate.Outcome[T]]],
    ) -> tuple[list[T], list[DeadLetter]]:
        """The batch's good items, and dead letters for the rest (`check` says why)."""
        good: list[T] = []
        dead = []
        now = wall_clock_ms()
        outcomes = check([record.value for record in batch])
        for record, outcome in zip(batch, outcomes, strict=True):
            if isinstance(outcome, validate.Invalid):
                dead.append(letter(record, str(outcome), now))
            else:
                good.append(outcome)
        return good, dead


class ClickPipeline(Pipeline):
    """Clicks: ids already stored are dropped before the insert, so replays never reach
    the rollups.

    Memory answers for most clicks (ingest/stored.py): the ids of every batch prepared so
    far count as stored from then on, because writes run one at a time and in order. The
    rest (clicks not newer than their workspace's floor) are asked of ClickHouse on the
    look-up connection, starting when the batch is prepared, while the batch before it may
    still be inserting; that batch's ids are in memory, and every earlier batch is stored,
    so the union is exactly what is in the table when this batch inserts.
    """

    def __init__(
        self, store: Store, producer: Producer, settings: IngestSettings, stop: asyncio.Event
    ) -> None:
        super().__init__(store, producer, settings, stop)
        self.stored = StoredIds(settings.click_memory)

    def forget(self, partitions: set[Partition]) -> None:
        self.stored.reset_floors()

    def assigned(self, partitions: set[Partition]) -> None:
        self.stored.reset_floors()

    def prepare(self, batch: Sequence[Record], span: Span) -> Prepared:
        clicks, dead = self.decode(batch, validate.clicks)
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
        prepared.body = self.store.encode("clicks", records.click_columns(clicks))
        prepared.token = dedup_token("clicks", span.ranges, (c.click_id for c in clicks))
        return prepared

    def _start_look_up(self, clicks: Sequence[Click]) -> asyncio.Future[set[str]] | None:
        """The look-up of those `clicks` memory cannot answer for, if any."""
        stored = self.stored
        missing = stored.missing_floors(clicks)
        if missing:
            return asyncio.ensure_future(self._look_up(clicks, missing, stored.generation))
        unsure = stored.unsure(clicks)
        if not unsure:
            return None
        return asyncio.ensure_future(
            self.retry("click look-up", self.store.existing_click_ids, unsure)
        )

    async def _look_up(
        self, clicks: Sequence[Click], missing: set[str], generation: int
    ) -> set[str]:
        """Read the floors of `missing` workspaces, then look up the clicks under them."""
        since = min(c.ts_ms for c in clicks if c.workspace_id in missing) - FLOOR_MARGIN_MS
        floors = await self.retry("click floors", self.store.latest_click_ts, missing, since)
        self.stored.set_floors(floors, generation)
        unsure = self.stored.unsure(clicks, floors)
        if not unsure:
            return set()
        return await self.retry("click look-up", self.store.existing_click_ids, unsure)

    async def write(self, prepared: Prepared) -> dict[Partition, int]:
        try:
            await self._insert(prepared)
        finally:
            prepared.discard()
        await self.send_dead(prepared.dead)
        return prepared.span.next_offsets()

    async def _insert(self, prepared: Prepared) -> None:
        clicks: Sequence[Click] = prepared.items
        body, token = prepared.body, prepared.token
        if prepared.lookup is not None:
            stored = await prepared.lookup
            if stored:
                clicks = [c for c in clicks if c.click_id not in stored]
                if clicks:
                    body = self.store.encode("clicks", records.click_columns(clicks))
                token = dedup_token(
                    "clicks", prepared.span.ranges, (c.click_id for c in clicks)
                )
        if clicks:
            await self.retry("clicks insert", self.store.insert_encoded, "clicks", body, token)


_EVENTS: Final = validate.each(validate.event)


class EventPipeline(Pipeline):
    def prepare(self, batch: Sequence[Record], span: Span) -> Prepared:
        events, dead = self.decode(batch, _EVENTS)
        prepared = Prepared(span, events, dead)
        if events:
            prepared.body = self.store.encode("events", records.event_columns(events))
            prepared.token = dedup_token("events", span.ranges, (e.event_id for e in events))
        return prepared

    async def write(self, prepared: Prepared) -> dict[Partition, int]:
        if prepared.items:
            await self.retry(
                "events insert", self.store.insert_encoded, "events", prepared.body, prepared.token
            )
        await self.send_dead(prepared.dead)
        return prepared.span.next_offsets()
