"""The bounded in-process buffer between emit() and the sender.

`emit()` runs on the request path and stays O(1): it encodes the event (msgspec JSON,
while the struct is still in the CPU's cache: encoding in bulk later cost about twice as
much) and appends (topic, key, value) to a deque. Only when the deque is full (or after
close) does it hand the record to the spool itself. An event that cannot be encoded (a
bug) is dropped there and counted, and the request is answered anyway.

The sender takes batches of up to `batch_size` records, oldest first, after giving a
partial batch `linger_ms` to fill; one batch may hold several topics (the record batches
sent to Kafka are then built per topic and partition, see batches.py).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable

import msgspec

from turnout.edge.sink.batches import Record
from turnout.events import ENCODER

Spool = Callable[[list[Record]], None]
Drop = Callable[[int, str], None]  # count, reason


class Accumulator:
    def __init__(self, buffer_size: int, batch_size: int, linger_ms: int, high_water: float,
                 spool: Spool, drop: Drop, wake: asyncio.Event) -> None:
        self.buffer: deque[Record] = deque()
        self.batch_size = batch_size
        self.high_water = max(1, int(buffer_size * high_water))
        self._limit = buffer_size  # 0 once closed: emit() then goes to the spool
        self._closed = False
        self._linger = linger_ms / 1000
        self._spool = spool
        self._drop = drop
        self._wake = wake
        self._idle = False  # the sender waits for records: the next emit() wakes it

    def emit(self, topic: str, key: str, event: msgspec.Struct) -> None:
        try:
            record = (topic, key.encode(), ENCODER.encode(event))
        except (TypeError, UnicodeError, msgspec.EncodeError) as exc:
            self._drop(1, f"unencodable event on {topic}: {exc}")
            return
        buffer = self.buffer
        if len(buffer) < self._limit:
            buffer.append(record)
            if self._idle:
                self._idle = False
                self._wake.set()
            return
        self._spool([record])

    def __len__(self) -> int:
        return len(self.buffer)

    def take(self) -> list[Record]:
        """Up to `batch_size` records, oldest first."""
        buffer = self.buffer
        return [buffer.popleft() for _ in range(min(self.batch_size, len(buffer)))]

    def spill(self, keep: int) -> None:
        """Spool the oldest records until `keep` remain, a batch per append."""
        buffer = self.buffer
        keep = max(0, keep)
        while len(buffer) > keep:
            count = min(self.batch_size, len(buffer) - keep)
            self._spool([buffer.popleft() for _ in range(count)])

    async def linger(self) -> None:
        """Give a partial batch `linger_ms` to fill; no wait for a full one or once closed."""
        if not self._closed and len(self.buffer) < self.batch_size and self._linger:
            await asyncio.sleep(self._linger)

    async def wait(self) -> None:
        """Until the next emit() into an empty buffer, or `wake()`."""
        self._idle = True
        self._wake.clear()
        await self._wake.wait()
        self._idle = False

    def wake(self) -> None:
        self._wake.set()

    def close(self) -> None:
        """From now on emit() writes to the spool, and the sender stops lingering."""
        self._limit = 0
        self._closed = True
        self._wake.set()
