"""The task that sends spooled events to Kafka once it answers again.

Sealed segments (and segments of dead workers) are replayed oldest first, a batch at a
time through the sender's `send`; a segment is deleted only after every frame in it was
acked or copied into the current segment. Progress is saved beside the segment after
each batch, so a replay cut short by a crash resumes instead of resending. Only segments
written for the same Kafka cluster (its TURNOUT_KAFKA_CLUSTER name, or bootstrap servers)
are replayed: see `spool.ClusterTags`. The file format itself is spool.py's.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Final

from turnout.edge.sink import spool
from turnout.edge.sink.batches import Record
from turnout.edge.sink.connector import Connector
from turnout.edge.sink.sender import Sender
from turnout.edge.sink.settings import SinkSettings
from turnout.edge.sink.spooler import Spooler
from turnout.edge.sink.stats import Counters

log = logging.getLogger("turnout.edge.sink")

# Without a wake-up a round still runs this often: segments of dead workers, sealed ones.
_TICK_S: Final = 1.0


class Replayer:
    def __init__(self, settings: SinkSettings, connector: Connector, sender: Sender,
                 spooler: Spooler, counters: Counters) -> None:
        self.settings = settings
        self._connector = connector
        self._sender = sender
        self._spooler = spooler
        self._counters = counters
        self._stopping = False
        self._wake = asyncio.Event()
        self._foreign: set[str] = set()  # other clusters' segments already warned about

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        """End run() at the next batch; what was acked so far is saved as progress."""
        self._stopping = True
        self._wake.set()

    async def run(self) -> None:
        while not self._stopping:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), _TICK_S)
            self._wake.clear()
            try:
                await self._round()
                await self._spooler.refresh_usage()
            except Exception as exc:
                self._counters.note_error(exc)
                log.exception("event spool replay failed")

    def _replaying(self) -> bool:
        return self._connector.up and not self._stopping

    async def _round(self) -> None:
        if not self._replaying():
            return
        writer = self._spooler.writer
        if writer.active_frames:
            await asyncio.to_thread(writer.seal)
        infos = await asyncio.to_thread(spool.list_segments, self.settings.spool_dir)
        tags, tag = self._spooler.tags, self._spooler.tag
        for info in infos:
            if not self._replaying():
                return
            if not spool.replayable(info, tag=tags):
                if not tags.accepts(info.tag) and info.path.name not in self._foreign:
                    self._foreign.add(info.path.name)
                    log.warning(
                        "spool segment %s was written for another Kafka cluster (tag %s, ours "
                        "%s): not replayed here; see docs/operations-spool.md",
                        info.path.name, info.tag, tag,
                    )
                continue
            claim = spool.Claim.take(info)
            if claim is None:
                continue
            try:
                await self._segment(claim)
            finally:
                claim.release()

    async def _segment(self, claim: spool.Claim) -> None:
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
                    await self._sender.send(records, acked)
                except asyncio.CancelledError:
                    self._commit(claim, offset, done, self._settle(records, acked))
                    raise
                failed = self._settle(records, acked)
                await asyncio.to_thread(self._commit, claim, offset, done, failed)
                if failed:
                    return
            if reader.skipped_bytes:
                self._counters.skipped += reader.skipped_bytes
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
            self._spooler.writer.sync()
        claim.save_progress(offset, done, self.settings.spool_fsync != "never")

    def _settle(self, records: list[Record], acked: list[bool]) -> bool:
        """Count the batch's outcome; True when some of it went back to the spool."""
        counters = self._counters
        counters.spool_pending -= len(records)  # the spooler counts re-spooled ones again
        unacked = self._sender.settle(records, acked, fresh=False)
        counters.replayed += len(records) - len(unacked)
        return bool(unacked)
