"""What every pipeline (one per topic) does with a batch, in the same three stages.

1. decode: each message decoded and validated; those that fail become dead letters.
2. encode: the rows to insert as one Native body (Store.encode), with the batch's dedup
   token (from its topic/partition/offsets and the rows' keys).
3. insert: that body into ClickHouse, retried until acknowledged: with the same token the
   rows ClickHouse has after a failed try, under a new token those it has not (see
   Pipeline.insert); then the dead letters to the DLQ; then the offsets that may be
   committed.

`prepare` runs decode and, when the rows are known by then, encode (pure CPU, on the event
loop); `write` runs what is left: look-ups, the insert and the dead letters, mostly waiting
on ClickHouse in a worker thread. The consumer prepares batch N+1 while batch N is being
written, so the two cores work at once; writes themselves stay strictly in order, one at a
time. The pipelines differ only in what is their own: clicks drop ids already stored,
conversions are attributed against stored clicks when written (click_pipeline.py,
event_pipeline.py, conversion_pipeline.py).

A pipeline returns offsets only once every message below them is in ClickHouse or in the
DLQ. While ClickHouse fails it retries the batch's rows (backing off), so nothing moves
and nothing is committed; a stop request abandons the batch uncommitted, and the next
consumer of the partition starts from the last commit.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, TypeVar

from turnout.ingest import validate
from turnout.ingest.batch import Partition, Ranges, Span, dedup_token, insert_label
from turnout.ingest.dlq import DeadLetter, Producer, Record, letter, send_letters
from turnout.ingest.errors import IngestError
from turnout.ingest.settings import IngestSettings
from turnout.ingest.store import Store

log = logging.getLogger(__name__)
T = TypeVar("T")
Item = TypeVar("Item")  # what one valid message decodes to
Row = TypeVar("Row")  # what one inserted row is built from


class Abandoned(IngestError):
    """Stop was requested while the batch was not yet stored; it stays uncommitted."""

    retriable = True  # the next consumer of the partition reads it again


def wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass(frozen=True, slots=True)
class Insert:
    """Rows of one batch as the Native body of an insert, and their dedup token."""

    table: str
    body: bytes
    token: str
    rows: Sequence[Any]  # what the body holds: looked for after a failed try
    span: Span
    attempt: int = 0  # > 0: made again under a token of its own (Pipeline.insert)


@dataclass(slots=True)
class Prepared(Generic[Item]):
    """A batch after `prepare`: its valid items, and the messages for the DLQ."""

    span: Span
    items: list[Item]
    dead: list[DeadLetter] = field(default_factory=list)
    # The insert, when the rows are known at prepare time; `finish` may still change it.
    insert: Insert | None = None
    # Clicks: the look-up under way of the ids that may be stored already (id -> the
    # ingest_batch that stored it).
    lookup: asyncio.Future[dict[str, str]] | None = None

    def discard(self) -> None:
        """Stop work started for a batch that will not be written (or is written)."""
        if self.lookup is not None and not self.lookup.done():
            self.lookup.cancel()


class Pipeline(Generic[Item, Row]):
    """The stages every pipeline shares; a pipeline says how its messages decode (`check`),
    how its rows become columns (`columns`, `keys`) and what it does at write time."""

    table: ClassVar[str]
    topic: str
    # Whether a replayed batch must be the same batch (same boundaries): true where the
    # table feeds materialized views (the consumer then asks `replay_span`).
    exact_replay: ClassVar[bool] = False

    def __init__(
        self, store: Store, producer: Producer, settings: IngestSettings, stop: asyncio.Event
    ) -> None:
        self.store = store
        self.producer = producer
        self.settings = settings
        self.stop = stop

    # What each pipeline says of its own topic; the stages below call them.

    def check(self, batch: Sequence[Record]) -> list[Item | validate.Invalid]:
        """Each message decoded and validated, or the Invalid that says why not."""
        raise NotImplementedError

    def columns(self, rows: Sequence[Row], label: str) -> list[list[Any]]:
        """The rows of an insert labelled `label` (batch.insert_label) as column data, in
        the order of schema.TABLES[table]."""
        raise NotImplementedError

    def keys(self, rows: Sequence[Row]) -> Iterable[str]:
        """Each row's key, for the dedup token: which rows of the batch are inserted."""
        raise NotImplementedError

    def stored_keys(self, rows: Sequence[Row]) -> set[str]:
        """The keys of those `rows` that ClickHouse has (a blocking look-up)."""
        raise NotImplementedError

    def prepare(self, batch: Sequence[Record], span: Span) -> Prepared[Item]:
        """The CPU-bound part of a batch; it must not depend on earlier batches' writes."""
        items, dead = self.decode(batch)
        return Prepared(span, items, dead)

    async def finish(self, prepared: Prepared[Item]) -> Insert | None:
        """The batch's insert once what only write time can tell is known."""
        return prepared.insert

    async def replay_span(self, batch: Sequence[Record], assigned: set[Partition]
                          ) -> Ranges | None:
        """For a pipeline with exact replays, the first batch after an assignment: the span
        its first records were stored under, to cut it at (None: cut it as it comes)."""
        return None

    def offsets(self, span: Span) -> dict[Partition, int]:
        """What may be committed once the batch's rows and dead letters are stored."""
        return span.next_offsets()

    # The stages.

    def decode(self, batch: Sequence[Record]) -> tuple[list[Item], list[DeadLetter]]:
        """The batch's valid items, and dead letters for the rest (`check` says why)."""
        good: list[Item] = []
        dead = []
        now = wall_clock_ms()
        for record, outcome in zip(batch, self.check(batch), strict=True):
            if isinstance(outcome, validate.Invalid):
                dead.append(letter(record, str(outcome), now))
            else:
                good.append(outcome)
        return good, dead

    def encode(self, rows: Sequence[Row], span: Span, attempt: int = 0) -> Insert | None:
        """The insert of `rows` for the batch `span`; None when there is nothing to insert."""
        if not rows:
            return None
        label = insert_label(span.ranges, attempt)
        body = self.store.encode(self.table, self.columns(rows, label))
        token = dedup_token(self.table, span.ranges, self.keys(rows), attempt)
        return Insert(self.table, body, token, rows, span, attempt)

    async def insert(self, insert: Insert | None) -> None:
        """Insert until ClickHouse has the rows.

        After a failed try, ClickHouse is asked which rows it has. Those it has (the try
        stored them, then failed: an answer lost, or a view's part not written) are tried
        again under the same token: `clicks` drops the block as a duplicate, and a view that
        lacks its part gets it. Those it has not are inserted under a token (and, for clicks,
        a label) of their own: a failed try can leave its token recorded without its part
        (chdb, when the part's final rename fails because the storage turned unwritable),
        and a retry with that token would be acknowledged as a duplicate of rows that are
        not there. A try that failed before writing anything costs only the look-up.
        """
        failures = 0
        while insert is not None:
            try:
                await asyncio.to_thread(
                    self.store.insert_encoded, insert.table, insert.body, insert.token
                )
                return
            except Exception as exc:  # any family means "not stored yet" (see retry)
                await self.back_off(f"{insert.table} insert", exc, failures)
                failures += 1
            stored = await self.retry(f"{insert.table} check", self.stored_keys, insert.rows)
            missing = [row for row, key in zip(insert.rows, self.keys(insert.rows), strict=True)
                       if key not in stored]
            if missing and len(missing) < len(insert.rows):
                log.warning("%s insert: %d of its %d rows are stored, the others go again "
                            "under a new token", insert.table, len(insert.rows) - len(missing),
                            len(insert.rows))
            if missing:
                insert = self.encode(missing, insert.span, insert.attempt + 1)

    async def write(self, prepared: Prepared[Item]) -> dict[Partition, int]:
        """Store a prepared batch; the offsets that may be committed once it returns."""
        try:
            await self.insert(await self.finish(prepared))
        finally:
            prepared.discard()
        await self.send_dead(prepared.dead)
        return self.offsets(prepared.span)

    async def process(self, batch: Sequence[Record], span: Span) -> dict[Partition, int]:
        return await self.write(self.prepare(batch, span))

    # The consumer's notices.

    def has_pending(self) -> bool:
        return False

    def forget(self, partitions: set[Partition]) -> None:
        """The partitions were revoked: drop whatever is held for them."""

    def assigned(self, partitions: set[Partition]) -> None:
        """The partitions were assigned (after a rebalance)."""

    def committed(self, offsets: dict[Partition, int]) -> None:
        """Kafka acknowledged the commit of these offsets."""

    # Retries.

    async def back_off(self, what: str, exc: Exception, failures: int) -> None:
        """Wait out the delay after a failed try of `what` (Abandoned if stop is asked)."""
        delay = self.settings.retry.delay(failures)
        log.warning("%s failed (%s); retrying in %.1fs", what, exc, delay)
        if self.stop.is_set():
            raise Abandoned(what)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stop.wait(), delay)
        if self.stop.is_set():
            raise Abandoned(what)

    async def retry(self, what: str, call: Callable[..., T], *args: Any) -> T:
        """Run a blocking call in a thread until it succeeds, backing off between tries."""
        failures = 0
        while True:
            try:
                return await asyncio.to_thread(call, *args)
            except Exception as exc:
                # Not only ClickHouse errors: chdb and the HTTP transport raise several
                # families, and any of them means "not stored yet".
                await self.back_off(what, exc, failures)
            failures += 1

    async def send_dead(self, letters: list[DeadLetter]) -> None:
        if not letters:
            return
        failures = 0
        while True:
            try:
                await send_letters(self.producer, self.settings.topic_dlq, letters)
                return
            except Exception as exc:
                await self.back_off("DLQ send", exc, failures)
            failures += 1
