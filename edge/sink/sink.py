"""EventSink: the edge's path from a request handler to Kafka, through memory or disk.

`emit()` is synchronous and O(1): it encodes the event (msgspec JSON, while the struct
is still in the CPU's cache: encoding in bulk later cost about twice as much) and
appends (topic, key, value) to a bounded deque. Only when the deque is full (or after
close) does it write the record to the spool file itself; that is a write() into the
page cache, still no fsync in the default mode. An event that cannot be encoded (a bug)
is dropped there and counted, and the request is answered anyway. Every event emit()
returns from is on one of three paths, never lost:

* sender: batches of up to `batch_size` (or whatever `linger_ms` gathered) go to
  aiokafka as record batches we build ourselves, one per partition (`send_batch`: one
  future per batch, not per event; the partition is murmur2 of the key, as the Java
  client picks it). An event leaves our hands only when its batch is acked; the events
  of a batch that was not acked (error, timeout) are appended to the spool.
* spool: while the broker is down or hung the sender writes the buffer to the spool
  every cycle rather than holding it in memory, so memory stays bounded and a crash of
  the worker during an outage loses nothing; while the broker is up but the sender is
  stalled, the buffer above the high-water mark goes to the spool.
* replayer: once the broker answers, sealed segments (and segments of dead workers) are
  replayed oldest first; a segment is deleted only after every frame in it was acked or
  copied into the current segment. Only segments written for the same Kafka cluster
  (bootstrap servers) are replayed: see `spool.cluster_tag`.

Failure detection: requests time out after `request_timeout_ms` (seconds, not aiokafka's
40 s), which fails the batch and marks the broker down; a connector task then probes the
cluster metadata with exponential backoff (capped at `retry_backoff_max_ms`).

fsync policy (`spool_fsync`), what a power cut can lose of the spooled events:
* "batch" (default): fsync after each spooled batch, in a worker thread. Loses at most
  the events spooled since the last fsync: one sender cycle (~linger_ms) of events.
* "always": fsync inside every append, on the event loop; emit() overflow pays a disk
  flush per event. Loses nothing acknowledged by the disk.
* "never": the kernel writes back dirty pages when it likes (about 30 s on Linux
  defaults); a power cut can lose that much. A process crash loses nothing in any mode:
  written data is in the page cache.
Events still in the in-memory buffer are lost on SIGKILL or power cut in every mode; on
SIGTERM, close() drains them. See docs/operations-spool.md.

Spool size limit: once the spool holds `max_spool_bytes`, events that would be spooled
are dropped, counted in `dropped_total` and logged at ERROR (at most once per 10 s):
the edge keeps redirecting, and the disk is not filled for the rest of the box.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections import Counter, deque
from collections.abc import Callable
from typing import Any

import msgspec

from turnout.edge.sink import batches, spool
from turnout.edge.sink.producer import make_producer
from turnout.edge.sink.settings import SinkSettings
from turnout.edge.sink.stats import SinkStats
from turnout.events import ENCODER

log = logging.getLogger("turnout.edge.sink")

Record = batches.Record
ProducerFactory = Callable[[SinkSettings], Any]
_TICK_S = 1.0
_LOG_EVERY_S = 10.0


def _retrieve(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()  # keeps asyncio from logging "exception was never retrieved"


class EventSink:
    def __init__(self, settings: SinkSettings, producer_factory: ProducerFactory | None = None
                 ) -> None:
        self.settings = settings
        self._factory = producer_factory or make_producer
        self._buffer: deque[Record] = deque()
        self._limit = settings.buffer_size  # 0 once closing: emit() then goes to the spool
        self._high_water = max(1, int(settings.buffer_size * settings.high_water))
        self._linger = settings.linger_ms / 1000
        self._timeout = settings.request_timeout_ms / 1000
        self._tag = spool.cluster_tag(settings.kafka_bootstrap)
        self._writer = spool.SpoolWriter(
            settings.spool_dir, settings.segment_bytes, settings.spool_fsync, self._tag
        )
        self._producer: Any = None
        self._broker_up = False
        self._stopping = False
        self._closed = False
        self._sender_idle = False
        self._wake = asyncio.Event()
        self._down = asyncio.Event()
        self._replay_wake = asyncio.Event()
        self._stop_event = asyncio.Event()
        self._first_attempt = asyncio.Event()
        self._in_flight: set[asyncio.Task[None]] = set()
        self._tasks: list[asyncio.Task[None]] = []
        self._sent: Counter[str] = Counter()
        self._spooled = 0
        self._replayed = 0
        self._send_errors = 0
        self._dropped = 0
        self._skipped = 0
        self._spool_bytes = 0
        self._spool_pending = 0
        self._last_error = ""
        self._last_drop_log = 0.0
        self._foreign: set[str] = set()  # other clusters' segments already warned about

    # -- the request path ------------------------------------------------------------

    def emit(self, topic: str, key: str, event: msgspec.Struct) -> None:
        try:
            record = (topic, key.encode(), ENCODER.encode(event))
        except (TypeError, UnicodeError, msgspec.EncodeError) as exc:
            self._drop(1, f"unencodable event on {topic}: {exc}")
            return
        buffer = self._buffer
        if len(buffer) < self._limit:
            buffer.append(record)
            if self._sender_idle:
                self._sender_idle = False
                self._wake.set()
            return
        self._spool([record], fresh=True)
        if self._closed:
            self._close_writer_now()  # nobody else will fsync or seal after close

    @property
    def stats(self) -> SinkStats:
        return SinkStats(
            buffer_depth=len(self._buffer),
            spool_bytes=self._spool_bytes,
            spool_events_pending=max(0, self._spool_pending),
            sent_total=dict(self._sent),
            spooled_total=self._spooled,
            replayed_total=self._replayed,
            send_errors_total=self._send_errors,
            dropped_total=self._dropped,
            spool_skipped_bytes=self._skipped,
            last_error=self._last_error,
            broker_up=self._broker_up,
        )

    # -- lifecycle -----------------------------------------------------------------------

    async def start(self) -> None:
        """Start the background tasks; never fails because the broker is down."""
        await asyncio.to_thread(spool.remove_stale_progress, self.settings.spool_dir)
        await self._refresh_usage()
        self._tasks = [
            asyncio.create_task(self._run_connector(), name="sink-connector"),
            asyncio.create_task(self._run_sender(), name="sink-sender"),
            asyncio.create_task(self._run_replayer(), name="sink-replayer"),
        ]

    async def close(self, timeout: float = 10.0) -> None:
        """Stop accepting, send or spool the buffer and in-flight batches, fsync, stop.

        In-flight batches are given the rest of `timeout`; one still unanswered then is
        spooled although the client may yet deliver it (a duplicate, never a loss):
        keep `timeout` above `request_timeout_ms` and that does not happen.
        """
        if self._closed:
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        self._limit = 0
        self._stopping = True
        self._stop_event.set()
        self._first_attempt.set()
        self._wake.set()
        self._replay_wake.set()
        self._down.set()
        connector, sender, replayer = self._tasks or (None, None, None)
        if connector is not None:
            connector.cancel()
        for task in (sender, replayer):
            if task is not None:
                remaining = max(0.0, deadline - loop.time())
                done, _ = await asyncio.wait([task], timeout=remaining)
                if not done:
                    task.cancel()
        pending = [t for t in (*self._tasks, *self._in_flight) if not t.done()]
        for task in pending:
            task.cancel()
        results = await asyncio.gather(*self._tasks, *self._in_flight, return_exceptions=True)
        for result in results:
            if isinstance(result, Exception):
                log.error("event sink task failed during close", exc_info=result)
        self._spool_buffer(keep=0)
        self._closed = True
        try:
            await asyncio.to_thread(self._writer.close)
        except OSError as exc:
            self._note_error(exc)
            log.error("event spool could not be closed cleanly: %s", exc)
        producer, self._producer = self._producer, None
        self._broker_up = False
        if producer is not None:
            await self._stop_producer(producer, max(0.5, deadline - loop.time()))

    # -- sender --------------------------------------------------------------------------

    async def _run_sender(self) -> None:
        # The sender must outlive any bug in one cycle: a dead sender strands the buffer.
        while True:
            try:
                await self._send_loop()
                return
            except Exception:
                log.exception("event sink sender failed; restarting it")
                await asyncio.sleep(0.1)

    async def _send_loop(self) -> None:
        buffer = self._buffer
        batch_size = self.settings.batch_size
        # Until the first connection attempt ends, hold events rather than spool them.
        await self._first_attempt.wait()
        while True:
            if not buffer:
                if self._writer.needs_sync:
                    await self._sync()
                    continue
                if self._stopping:
                    break
                self._sender_idle = True
                self._wake.clear()
                await self._wake.wait()
                self._sender_idle = False
                continue
            if not self._stopping and len(buffer) < batch_size and self._linger:
                await asyncio.sleep(self._linger)
            if not self._broker_up:
                # One batch at a time, yielding in between: a large buffer must not
                # hold the event loop while it is encoded and written.
                self._spool_buffer(keep=len(buffer) - batch_size)
                await self._sync()
                if self._stopping and not buffer:
                    break  # broker down at shutdown: all in the spool, don't wait for it
                continue
            if len(self._in_flight) >= self.settings.max_in_flight:
                await asyncio.wait(
                    self._in_flight, timeout=self._linger or 0.01,
                    return_when=asyncio.FIRST_COMPLETED,
                )
                if len(buffer) > self._high_water:
                    self._spool_buffer(keep=max(self._high_water // 2, len(buffer) - batch_size))
                continue
            items = [buffer.popleft() for _ in range(min(batch_size, len(buffer)))]
            self._start_delivery(items)
        if self._in_flight:
            await asyncio.wait(list(self._in_flight))
        self._spool_buffer(keep=0)  # anything a failed last batch raced in
        if self._writer.needs_sync:
            await self._sync()

    def _start_delivery(self, records: list[Record]) -> asyncio.Task[None]:
        task = asyncio.create_task(self._deliver(records))
        self._in_flight.add(task)
        task.add_done_callback(functools.partial(self._delivered, records))
        return task

    def _delivered(self, records: list[Record], task: asyncio.Task[None]) -> None:
        self._in_flight.discard(task)
        # A task cancelled before its first step never runs _deliver's `finally`: its
        # records would be in nobody's hands. _settle empties the list, so what is left
        # here was never sent.
        if records:
            self._send_errors += 1
            self._spool(records, fresh=True)

    async def _deliver(self, records: list[Record]) -> None:
        acked = [False] * len(records)
        try:
            await self._send(records, acked)
        finally:
            self._settle(records, acked)
            records.clear()

    async def _send(self, records: list[Record], acked: list[bool]) -> None:
        """Hand records to the client, one batch per partition, and wait for all answers.

        Marks `acked` in place. A batch is acked or failed as a whole, so its records share
        its outcome; a record that never made it into a submitted batch stays un-acked.
        """
        producer = self._producer
        if producer is None:
            return
        submitted: batches.Submitted = []
        try:
            try:
                await batches.submit(producer, records, submitted)
            except Exception as exc:  # what was not submitted is spooled by the caller
                self._note_error(exc)
            if submitted:
                await asyncio.wait([future for future, _ in submitted])
        finally:
            error: BaseException | None = None
            for future, batch_indexes in submitted:
                if not future.done():
                    future.add_done_callback(_retrieve)
                elif future.cancelled():
                    continue
                elif (exc := future.exception()) is None:
                    for index in batch_indexes:
                        acked[index] = True
                elif error is None:
                    error = exc
            if error is not None:
                self._note_error(error)

    def _settle(self, records: list[Record], acked: list[bool]) -> None:
        sent = self._sent
        unacked = []
        for record, ok in zip(records, acked, strict=True):
            if ok:
                sent[record[0]] += 1
            else:
                unacked.append(record)
        if unacked:
            self._send_errors += 1
            self._spool(unacked, fresh=True)
            self._mark_down()

    # -- spool ---------------------------------------------------------------------------

    def _spool(self, records: list[Record], fresh: bool) -> None:
        """Append to the spool, or count and log a drop; never raises."""
        if not records:
            return
        if fresh and self._spool_bytes >= self.settings.max_spool_bytes:
            self._drop(len(records), f"spool is full ({self._spool_bytes} bytes)")
            return
        try:
            written = self._writer.append(records)
        except (OSError, ValueError) as exc:
            self._drop(len(records), f"spool write failed: {exc}")
            return
        self._spool_bytes += written
        self._spool_pending += len(records)
        if fresh:
            self._spooled += len(records)
        self._wake.set()  # the sender fsyncs (per policy) on its next cycle

    def _spool_buffer(self, keep: int) -> None:
        buffer = self._buffer
        keep = max(0, keep)
        while len(buffer) > keep:
            count = min(self.settings.batch_size, len(buffer) - keep)
            self._spool([buffer.popleft() for _ in range(count)], fresh=True)

    def _drop(self, count: int, reason: str) -> None:
        self._dropped += count
        self._last_error = reason
        now = time.monotonic()
        if now - self._last_drop_log >= _LOG_EVERY_S:
            self._last_drop_log = now
            log.error("EVENTS DROPPED: %s; %d dropped so far", reason, self._dropped)

    async def _sync(self) -> None:
        try:
            await asyncio.to_thread(self._writer.sync)
        except OSError as exc:
            self._note_error(exc)
            log.error("event spool fsync failed: %s", exc)

    def _close_writer_now(self) -> None:
        try:
            self._writer.close()
        except OSError as exc:
            self._note_error(exc)
            log.error("event spool could not be closed: %s", exc)

    async def _refresh_usage(self) -> None:
        size, pending = await asyncio.to_thread(spool.spool_usage, self.settings.spool_dir)
        self._spool_bytes = size
        self._spool_pending = pending + self._writer.active_frames

    # -- broker state --------------------------------------------------------------------

    def _note_error(self, exc: BaseException) -> None:
        self._last_error = f"{type(exc).__name__}: {exc}"

    def _mark_down(self) -> None:
        if self._broker_up:
            log.warning("Kafka unreachable (%s): spooling events", self._last_error)
        self._broker_up = False
        self._down.set()

    async def _run_connector(self) -> None:
        delay = self.settings.retry_backoff_ms / 1000
        cap = self.settings.retry_backoff_max_ms / 1000
        while not self._stopping:
            if self._broker_up:
                self._first_attempt.set()
                self._down.clear()
                if self._broker_up:
                    await self._down.wait()
                continue
            if await self._connect():
                log.info("Kafka reachable at %s", self.settings.kafka_bootstrap)
                self._broker_up = True
                delay = self.settings.retry_backoff_ms / 1000
                self._wake.set()
                self._replay_wake.set()
                continue
            self._first_attempt.set()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop_event.wait(), delay)
            delay = min(delay * 2, cap)

    async def _connect(self) -> bool:
        producer = self._producer
        if producer is None:
            producer = self._factory(self.settings)
            try:
                await asyncio.wait_for(producer.start(), self._timeout)
            except asyncio.CancelledError:
                await self._stop_producer(producer, 1.0)  # close() during a connect
                raise
            except Exception as exc:
                self._note_error(exc)
                await self._stop_producer(producer, self._timeout)
                return False
            self._producer = producer
            return True
        try:
            return bool(
                await asyncio.wait_for(producer.client.force_metadata_update(), self._timeout)
            )
        except Exception as exc:
            self._note_error(exc)
            return False

    async def _stop_producer(self, producer: Any, timeout: float) -> None:
        try:
            await asyncio.wait_for(producer.stop(), timeout)
        except Exception as exc:
            log.warning("Kafka producer did not stop cleanly: %s", exc)

    # -- replay --------------------------------------------------------------------------

    async def _run_replayer(self) -> None:
        while not self._stopping:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._replay_wake.wait(), _TICK_S)
            self._replay_wake.clear()
            try:
                await self._replay_round()
                await self._refresh_usage()
            except Exception as exc:
                self._note_error(exc)
                log.exception("event spool replay failed")

    async def _replay_round(self) -> None:
        if not self._broker_up or self._stopping:
            return
        if self._writer.active_frames:
            await asyncio.to_thread(self._writer.seal)
        infos = await asyncio.to_thread(spool.list_segments, self.settings.spool_dir)
        for info in infos:
            if not self._broker_up or self._stopping:
                return
            if not spool.replayable(info, tag=self._tag):
                if info.tag and info.tag != self._tag and info.path.name not in self._foreign:
                    self._foreign.add(info.path.name)
                    log.warning(
                        "spool segment %s was written for another Kafka cluster (tag %s, ours "
                        "%s): not replayed here; see docs/operations-spool.md",
                        info.path.name, info.tag, self._tag,
                    )
                continue
            claim = spool.Claim.take(info)
            if claim is None:
                continue
            try:
                await self._replay_segment(claim)
            finally:
                claim.release()

    async def _replay_segment(self, claim: spool.Claim) -> None:
        offset, done = claim.progress()
        reader = await asyncio.to_thread(spool.SpoolReader, claim.info.path, offset)
        try:
            while True:
                if self._stopping:
                    return
                batch = await asyncio.to_thread(reader.read, self.settings.batch_size)
                if not batch:
                    break
                records: list[Record] = [(f.topic, f.key, f.value) for _, f in batch]
                acked = [False] * len(records)
                offset, done = batch[-1][0], done + len(records)
                try:
                    await self._send(records, acked)
                except asyncio.CancelledError:
                    self._commit(claim, offset, done, self._settle_replay(records, acked))
                    raise
                failed = self._settle_replay(records, acked)
                await asyncio.to_thread(self._commit, claim, offset, done, failed)
                if failed:
                    return
            if reader.skipped_bytes:
                self._skipped += reader.skipped_bytes
                log.warning(
                    "spool segment %s: skipped %d damaged bytes (%s)", claim.info.path.name,
                    reader.skipped_bytes, "torn tail" if reader.torn_tail else "corrupt frames",
                )
            claim.finish()
        finally:
            reader.close()

    def _commit(self, claim: spool.Claim, offset: int, done: int, respooled: bool) -> None:
        # Re-spooled copies must be durable before the progress that skips their originals.
        if respooled:
            self._writer.sync()
        claim.save_progress(offset, done, self.settings.spool_fsync != "never")

    def _settle_replay(self, records: list[Record], acked: list[bool]) -> bool:
        unacked = [record for record, ok in zip(records, acked, strict=True) if not ok]
        replayed = len(records) - len(unacked)
        self._replayed += replayed
        self._spool_pending -= replayed
        for record, ok in zip(records, acked, strict=True):
            if ok:
                self._sent[record[0]] += 1
        if unacked:
            self._send_errors += 1
            self._spool_pending -= len(unacked)  # _spool counts them again
            self._spool(unacked, fresh=False)  # moves within the spool: no size limit
            self._mark_down()
        return bool(unacked)
