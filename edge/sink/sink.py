"""EventSink: the edge's path from a request handler to Kafka, through memory or disk.

A thin facade, in the shape of aiokafka's producer, over:

* accumulator.py: `emit()`, synchronous and O(1): encodes the event into a bounded
  buffer; when the buffer is full (or after close) it writes the record to the spool
  itself, a write() into the page cache, still no fsync in the default mode.
* sender.py: the task that drains the buffer to Kafka in batches, spools what was not
  acked, and spools the buffer while the broker is down or the sender stalled.
* replayer.py: the task that replays spooled segments once the broker answers.
* connector.py: the producer and whether Kafka answers, reconnecting with backoff.
* spooler.py: the size limit, drop counting and fsync around spool.py's segment files.
* sealer.py: the worker thread that compresses record batches off the event loop.

Every event emit() returns from is in the buffer, in a batch in flight or in the spool,
never lost; an event leaves the sink's hands only when Kafka acked it.

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
import logging
from collections.abc import Callable

import msgspec

from turnout.edge.sink import spool
from turnout.edge.sink.accumulator import Accumulator
from turnout.edge.sink.connector import Connector, ProducerFactory
from turnout.edge.sink.producer import make_producer
from turnout.edge.sink.replayer import Replayer
from turnout.edge.sink.sealer import Sealer
from turnout.edge.sink.sender import Sender
from turnout.edge.sink.settings import SinkSettings
from turnout.edge.sink.spooler import Spooler
from turnout.edge.sink.stats import Counters, SinkStats

log = logging.getLogger("turnout.edge.sink")

__all__ = ["EventSink", "ProducerFactory"]


class EventSink:
    # The accumulator's bound method itself, set per instance: a delegating method would
    # add a Python call to every request.
    emit: Callable[[str, str, msgspec.Struct], None]

    def __init__(self, settings: SinkSettings, producer_factory: ProducerFactory | None = None
                 ) -> None:
        self.settings = settings
        self._counters = counters = Counters()
        wake = asyncio.Event()
        self._spooler = spooler = Spooler(settings, counters, on_write=wake.set)
        self._accumulator = accumulator = Accumulator(
            settings.buffer_size, settings.batch_size, settings.linger_ms, settings.high_water,
            spool=spooler.spool, drop=spooler.drop, wake=wake,
        )
        self.emit = accumulator.emit
        self._connector = connector = Connector(
            settings, producer_factory or make_producer, counters, on_up=self._broker_up
        )
        # With the idempotent producer aiokafka must build each batch itself (sealer.py).
        self._sealer = None if settings.idempotence else Sealer()
        self._sender = sender = Sender(settings, accumulator, connector, spooler, counters,
                                       self._sealer)
        self._replayer = Replayer(settings, connector, sender, spooler, counters)
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def stats(self) -> SinkStats:
        return self._counters.snapshot(len(self._accumulator), self._connector.up)

    async def start(self) -> None:
        """Start the background tasks; never fails because the broker is down."""
        await asyncio.to_thread(spool.remove_stale_progress, self.settings.spool_dir)
        await self._spooler.refresh_usage()
        self._tasks = [
            asyncio.create_task(self._connector.run(), name="sink-connector"),
            asyncio.create_task(self._sender.run(), name="sink-sender"),
            asyncio.create_task(self._replayer.run(), name="sink-replayer"),
        ]

    async def close(self, timeout: float = 10.0) -> None:
        """Stop accepting, send or spool the buffer and in-flight batches, fsync, stop.

        In-flight batches are given the rest of `timeout`; one still unanswered then is
        spooled although the client may yet deliver it (a duplicate, never a loss):
        keep `timeout` above `request_timeout_ms` and that does not happen.
        """
        if self._spooler.closed:
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        self._accumulator.close()
        self._sender.stop()
        self._replayer.stop()
        self._connector.stop()
        connector, sender, replayer = self._tasks or (None, None, None)
        if connector is not None:
            connector.cancel()
        for task in (sender, replayer):
            if task is not None:
                remaining = max(0.0, deadline - loop.time())
                done, _ = await asyncio.wait([task], timeout=remaining)
                if not done:
                    task.cancel()
        in_flight = self._sender.in_flight
        for task in [t for t in (*self._tasks, *in_flight) if not t.done()]:
            task.cancel()
        results = await asyncio.gather(*self._tasks, *in_flight, return_exceptions=True)
        for result in results:
            if isinstance(result, Exception):
                log.error("event sink task failed during close", exc_info=result)
        self._accumulator.spill(keep=0)
        if self._sealer is not None:
            self._sealer.close()
        await self._spooler.close()
        await self._connector.close(max(0.5, deadline - loop.time()))

    def _broker_up(self) -> None:
        self._accumulator.wake()
        self._replayer.wake()
