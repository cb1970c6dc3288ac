"""The sink's hand on the spool: appends under the size limit, drops loudly, fsyncs off the loop.

Every part that gives events to the disk (emit() overflow, a failed or stalled send, a
failed replay) goes through `Spooler.spool`, so the size limit, the drop counting and the
pending count hold for all of them. Appends are writes into the page cache, done on the
event loop; fsync (per policy) and close run in a worker thread.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Final

from turnout.edge.sink import spool
from turnout.edge.sink.batches import Record
from turnout.edge.sink.settings import SinkSettings
from turnout.edge.sink.stats import Counters

log = logging.getLogger("turnout.edge.sink")

_LOG_EVERY_S: Final = 10.0


class Spooler:
    def __init__(self, settings: SinkSettings, counters: Counters,
                 on_write: Callable[[], None]) -> None:
        self.settings = settings
        self.tags = spool.ClusterTags.of(settings.kafka_bootstrap, settings.kafka_cluster)
        self.tag = self.tags.own
        self.writer = spool.SpoolWriter(
            settings.spool_dir, settings.segment_bytes, settings.spool_fsync, self.tag
        )
        self.closed = False
        self._counters = counters
        self._on_write = on_write  # wakes the sender, which fsyncs (per policy) next cycle
        self._last_drop_log = 0.0

    def spool(self, records: list[Record], fresh: bool = True) -> None:
        """Append to the spool, or count and log a drop; never raises.

        `fresh` records take the disk path for the first time and count against the size
        limit; replayed records that failed again only move within the spool.
        """
        if not records:
            return
        counters = self._counters
        if fresh and counters.spool_bytes >= self.settings.max_spool_bytes:
            self.drop(len(records), f"spool is full ({counters.spool_bytes} bytes)")
            return
        try:
            written = self.writer.append(records)
        except (OSError, ValueError) as exc:
            self.drop(len(records), f"spool write failed: {exc}")
            return
        counters.spool_bytes += written
        counters.spool_pending += len(records)
        if fresh:
            counters.spooled += len(records)
        if self.closed:
            self._close_now()  # after close() nobody else will fsync or seal
        else:
            self._on_write()

    def drop(self, count: int, reason: str) -> None:
        counters = self._counters
        counters.dropped += count
        counters.last_error = reason
        now = time.monotonic()
        if now - self._last_drop_log >= _LOG_EVERY_S:
            self._last_drop_log = now
            log.error("EVENTS DROPPED: %s; %d dropped so far", reason, counters.dropped)

    async def sync(self) -> None:
        try:
            await asyncio.to_thread(self.writer.sync)
        except OSError as exc:
            self._counters.note_error(exc)
            log.error("event spool fsync failed: %s", exc)

    async def refresh_usage(self) -> None:
        """Recount size and pending frames over the whole directory (other workers' too)."""
        size, pending = await asyncio.to_thread(spool.spool_usage, self.settings.spool_dir)
        self._counters.spool_bytes = size
        self._counters.spool_pending = pending + self.writer.active_frames

    async def close(self) -> None:
        """Seal the active segment; later spools seal theirs at once."""
        self.closed = True
        try:
            await asyncio.to_thread(self.writer.close)
        except OSError as exc:
            self._counters.note_error(exc)
            log.error("event spool could not be closed cleanly: %s", exc)

    def _close_now(self) -> None:
        try:
            self.writer.close()
        except OSError as exc:
            self._counters.note_error(exc)
            log.error("event spool could not be closed: %s", exc)
