"""The task that drains the accumulator to Kafka, or to the spool while Kafka is away.

Batches go to aiokafka as record batches we build ourselves, one per partition
(batches.py: one future per batch, not per event). An event leaves our hands only when
its batch is acked; the events of a batch that was not acked (error, timeout) are
spooled, and the broker is marked down for the connector to probe.

While the broker is down or hung the sender writes the buffer to the spool every cycle
rather than holding it in memory, so memory stays bounded and a crash of the worker
during an outage loses nothing; while the broker is up but `max_in_flight` batches are
unanswered, the buffer above the high-water mark goes to the spool. On close the sender
waits for its in-flight batches and spools what is left.

`send` and `settle` are also the replayer's way to Kafka: one path, one accounting.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from typing import Any

from turnout.edge.sink import batches
from turnout.edge.sink.accumulator import Accumulator
from turnout.edge.sink.batches import Record, Seal
from turnout.edge.sink.connector import Connector
from turnout.edge.sink.settings import SinkSettings
from turnout.edge.sink.spooler import Spooler
from turnout.edge.sink.stats import Counters

log = logging.getLogger("turnout.edge.sink")


def _retrieve(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()  # keeps asyncio from logging "exception was never retrieved"


class Sender:
    def __init__(self, settings: SinkSettings, accumulator: Accumulator, connector: Connector,
                 spooler: Spooler, counters: Counters, seal: Seal | None = None) -> None:
        self.settings = settings
        self._seal = seal
        self.in_flight: set[asyncio.Task[None]] = set()
        self._accumulator = accumulator
        self._connector = connector
        self._spooler = spooler
        self._counters = counters
        self._stopping = False

    def stop(self) -> None:
        """Send or spool what is buffered, wait for in-flight batches, then end run()."""
        self._stopping = True
        self._accumulator.wake()

    async def run(self) -> None:
        # The sender must outlive any bug in one cycle: a dead sender strands the buffer.
        while True:
            try:
                await self._drain()
                return
            except Exception:
                log.exception("event sink sender failed; restarting it")
                await asyncio.sleep(0.1)

    async def _drain(self) -> None:
        accumulator, spooler, connector = self._accumulator, self._spooler, self._connector
        buffer = accumulator.buffer
        batch_size = self.settings.batch_size
        # Until the first connection attempt ends, hold events rather than spool them.
        await connector.first_attempt()
        while True:
            if not buffer:
                if spooler.writer.needs_sync:
                    await spooler.sync()
                    continue
                if self._stopping:
                    break
                await accumulator.wait()
                continue
            await accumulator.linger()
            if not connector.up:
                # One batch at a time, yielding in between: a large buffer must not
                # hold the event loop while it is encoded and written.
                accumulator.spill(keep=len(buffer) - batch_size)
                await spooler.sync()
                if self._stopping and not buffer:
                    break  # broker down at shutdown: all in the spool, don't wait for it
                continue
            if len(self.in_flight) >= self.settings.max_in_flight:
                await asyncio.wait(
                    self.in_flight, timeout=self.settings.linger_ms / 1000 or 0.01,
                    return_when=asyncio.FIRST_COMPLETED,
                )
                high_water = accumulator.high_water
                if len(buffer) > high_water:
                    accumulator.spill(keep=max(high_water // 2, len(buffer) - batch_size))
                continue
            self.start_delivery(accumulator.take())
        if self.in_flight:
            await asyncio.wait(list(self.in_flight))
        accumulator.spill(keep=0)  # anything a failed last batch raced in
        if spooler.writer.needs_sync:
            await spooler.sync()

    def start_delivery(self, records: list[Record]) -> asyncio.Task[None]:
        task = asyncio.create_task(self._deliver(records))
        self.in_flight.add(task)
        task.add_done_callback(functools.partial(self._delivered, records))
        return task

    def _delivered(self, records: list[Record], task: asyncio.Task[None]) -> None:
        self.in_flight.discard(task)
        # A task cancelled before its first step never runs _deliver's `finally`: its
        # records would be in nobody's hands. _deliver empties the list, so what is left
        # here was never sent.
        if records:
            self._counters.send_errors += 1
            self._spooler.spool(records)

    async def _deliver(self, records: list[Record]) -> None:
        acked = [False] * len(records)
        try:
            await self.send(records, acked)
        finally:
            self.settle(records, acked)
            records.clear()

    async def send(self, records: list[Record], acked: list[bool]) -> None:
        """Hand records to the client, one batch per partition, and wait for all answers.

        Marks `acked` in place. A batch is acked or failed as a whole, so its records share
        its outcome; a record that never made it into a submitted batch stays un-acked.
        """
        producer = self._connector.producer
        if producer is None:
            return
        submitted: batches.Submitted = []
        try:
            try:
                await batches.submit(producer, records, submitted, self._seal)
            except Exception as exc:  # what was not submitted is spooled by the caller
                self._counters.note_error(exc)
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
                self._counters.note_error(error)

    def settle(self, records: list[Record], acked: list[bool], fresh: bool = True
               ) -> list[Record]:
        """Count the acked records as sent; spool the others and mark the broker down.

        Returns the un-acked records. `fresh` is False for replayed records, which move
        within the spool rather than count against its size limit again.
        """
        sent = self._counters.sent
        unacked = []
        for record, ok in zip(records, acked, strict=True):
            if ok:
                sent[record[0]] += 1
            else:
                unacked.append(record)
        if unacked:
            self._counters.send_errors += 1
            self._spooler.spool(unacked, fresh)
            self._connector.mark_down()
        return unacked
