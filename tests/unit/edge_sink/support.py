"""What the sink's unit tests share: settings pointing at a dead port, the spool's keys, a
scripted producer."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

from turnout.edge.sink import SinkSettings
from turnout.edge.sink import spool as spool_mod
from turnout.local.services import free_port


def settings_for(spool_dir: Path, **overrides: Any) -> SinkSettings:
    base: dict[str, Any] = {
        "kafka_bootstrap": f"127.0.0.1:{free_port()}", "spool_dir": spool_dir,
        "linger_ms": 1, "request_timeout_ms": 500, "retry_backoff_ms": 50,
        "retry_backoff_max_ms": 200,
    }
    base.update(overrides)
    return SinkSettings(**base)


def spooled_keys(spool_dir: Path) -> list[str]:
    keys = []
    for info in spool_mod.list_segments(spool_dir):
        with spool_mod.SpoolReader(info.path) as reader:
            keys += [frame.key.decode() for frame in reader.read_all()]
    return keys


async def until(predicate: Any, timeout: float = 10.0) -> None:
    for _ in range(int(timeout / 0.02)):
        if predicate():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition not reached")


class _Client:
    async def force_metadata_update(self) -> bool:
        return True


class _Batch:
    def __init__(self, limit: int) -> None:
        self.keys: list[bytes] = []
        self.limit = limit
        self.closed = False
        self.built_in: str | None = None  # the thread that built it, if anyone did

    def _build(self) -> bytes:
        # aiokafka's BatchBuilder._build: closes, then compresses once (sealer.py).
        self.closed = True
        self.built_in = threading.current_thread().name
        return b"".join(self.keys)

    def append(self, *, key: bytes, value: bytes, timestamp: int | None) -> object | None:
        if self.closed or len(self.keys) >= self.limit:
            return None
        self.keys.append(key)
        return object()

    def close(self) -> None:
        self.closed = True


class ScriptedProducer:
    """Acks a batch unless `fail(key)` holds for one of its keys: batches fail as a whole.

    Mirrors the calls the sink makes on aiokafka's producer (partitions_for, create_batch,
    send_batch); `batch_limit` records fill a batch, as max_batch_size would. While `hold`
    is set, batches are never answered, as by a hung broker.
    """

    def __init__(self, fail: Any, partitions: int = 3, batch_limit: int = 1000,
                 hold: bool = False) -> None:
        self.fail = fail
        self.hold = hold
        self.acked: list[bytes] = []
        self.batches: list[tuple[str, int, list[bytes]]] = []
        self.partitions = partitions
        self.batch_limit = batch_limit
        self.built_in: list[str | None] = []  # per batch sent: who had built it by then
        self.client = _Client()

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    async def partitions_for(self, topic: str) -> set[int]:
        return set(range(self.partitions))

    def create_batch(self) -> _Batch:
        return _Batch(self.batch_limit)

    async def send_batch(self, batch: _Batch, topic: str, *, partition: int
                         ) -> asyncio.Future[Any]:
        assert batch.closed and batch.keys
        self.batches.append((topic, partition, batch.keys))
        self.built_in.append(batch.built_in)
        future = asyncio.get_running_loop().create_future()
        if self.hold:
            return future
        if any(self.fail(key) for key in batch.keys):
            future.set_exception(TimeoutError("scripted"))
        else:
            self.acked.extend(batch.keys)
            future.set_result(None)
        return future
