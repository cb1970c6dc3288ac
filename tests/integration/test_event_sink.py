"""The event sink against the real tansu broker: no loss through a hung, a killed and a
missing broker.

A recording producer wraps the real aiokafka producer to learn, per key, whether the
broker acknowledged it and whether a send failed after leaving our hands ("in doubt":
the broker may have written it anyway). That is what lets these tests tell our losses
and duplicates apart from the broker's (tansu keeps data in memory only).
"""

from __future__ import annotations

import asyncio
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer

from turnout.edge.sink import EventSink, SinkSettings
from turnout.edge.sink import spool as spool_mod
from turnout.edge.sink.producer import make_producer
from turnout.events import TOPIC_CLICKS, Click
from turnout.local.services import LocalStack
from turnout.topics import ensure_topics


def _click(key: str) -> Click:
    return Click(
        click_id=key, ts_ms=1_700_000_000_000, workspace_id="ws", campaign_id="cmp",
        campaign_code="CODE", graph_version=1, rule_id="default", visitor_id="v-" + key,
    )


def _settings(bootstrap: str, spool_dir: Path, **overrides: Any) -> SinkSettings:
    base: dict[str, Any] = {
        "kafka_bootstrap": bootstrap, "spool_dir": spool_dir, "linger_ms": 5,
        "request_timeout_ms": 2000, "retry_backoff_ms": 100, "retry_backoff_max_ms": 500,
    }
    base.update(overrides)
    return SinkSettings(**base)


class Recorder:
    """Wraps the real producer; remembers each key's outcome and the broker epoch."""

    def __init__(self) -> None:
        self.epoch = "first"
        self.acked: dict[str, str] = {}  # key -> epoch of its first ack
        self.acks: Counter[str] = Counter()
        self.in_doubt: set[str] = set()

    def factory(self, settings: SinkSettings) -> Any:
        recorder = self
        producer = make_producer(settings)
        real_create, real_send_batch = producer.create_batch, producer.send_batch

        def create_batch() -> _RecordingBatch:
            return _RecordingBatch(real_create())

        async def send_batch(batch: _RecordingBatch, topic: str, *, partition: int
                             ) -> asyncio.Future[Any]:
            future = await real_send_batch(batch.inner, topic, partition=partition)

            def done(fut: asyncio.Future[Any], names: list[str] = batch.keys) -> None:
                for name in names:
                    if fut.cancelled() or fut.exception() is not None:
                        recorder.in_doubt.add(name)
                    else:
                        recorder.acked.setdefault(name, recorder.epoch)
                        recorder.acks[name] += 1

            future.add_done_callback(done)
            return future

        producer.create_batch = create_batch
        producer.send_batch = send_batch
        return producer


class _RecordingBatch:
    """aiokafka's batch builder, remembering the keys appended to it."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.keys: list[str] = []

    def append(self, *, key: bytes, value: bytes, timestamp: int | None) -> Any:
        metadata = self.inner.append(key=key, value=value, timestamp=timestamp)
        if metadata is not None:
            self.keys.append(key.decode())
        return metadata

    def close(self) -> None:
        self.inner.close()

    def _build(self) -> Any:  # the sink builds (compresses) batches off the loop: sealer.py
        return self.inner._build()


async def _consume(
    bootstrap: str, prefix: str, enough: Callable[[Counter[str]], bool], timeout: float = 30.0
) -> Counter[str]:
    """Keys starting with `prefix` read from the beginning, by a fresh group (tansu's end
    offsets are unreliable), until `enough` holds plus a grace period for duplicates."""
    consumer = AIOKafkaConsumer(
        TOPIC_CLICKS, bootstrap_servers=bootstrap, group_id=f"test-{uuid.uuid4().hex}",
        auto_offset_reset="earliest", enable_auto_commit=False,
    )
    await consumer.start()
    seen: Counter[str] = Counter()
    deadline = time.monotonic() + timeout
    grace_until = None
    try:
        while time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=300)
            for messages in batches.values():
                for message in messages:
                    key = message.key.decode()
                    if key.startswith(prefix):
                        seen[key] += 1
            if grace_until is None and enough(seen):
                grace_until = time.monotonic() + 1.5
            if grace_until is not None and time.monotonic() > grace_until:
                break
    finally:
        await consumer.stop()
    return seen


async def _drained(sink: EventSink, timeout: float = 40.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        stats = sink.stats
        if (stats.broker_up and stats.buffer_depth == 0 and stats.spool_events_pending == 0
                and not spool_mod.list_segments(sink.settings.spool_dir)):
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"sink did not drain: {sink.stats}")


async def _until(predicate: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached")
        await asyncio.sleep(0.02)


async def _ensure_broker(stack: LocalStack) -> None:
    if not stack.kafka.running:
        stack.kafka.start()
    await ensure_topics(stack.kafka_bootstrap)


async def test_every_event_arrives_exactly_once(kafka_bootstrap: str, tmp_path: Path) -> None:
    prefix = f"once-{uuid.uuid4().hex[:8]}-"
    keys = [f"{prefix}{i}" for i in range(5000)]
    sink = EventSink(_settings(kafka_bootstrap, tmp_path / "spool"))
    await sink.start()
    try:
        for key in keys:
            sink.emit(TOPIC_CLICKS, key, _click(key))
        await _drained(sink)
    finally:
        await sink.close()
    seen = await _consume(kafka_bootstrap, prefix, lambda s: len(s) >= len(keys))
    assert set(seen) == set(keys)
    assert max(seen.values()) == 1
    assert sink.stats.sent_total[TOPIC_CLICKS] == len(keys)
    assert sink.stats.spooled_total == 0 and sink.stats.dropped_total == 0


async def test_a_hung_broker_loses_nothing_and_never_blocks_emit(
    stack: LocalStack, tmp_path: Path
) -> None:
    prefix = f"hung-{uuid.uuid4().hex[:8]}-"
    keys = [f"{prefix}{i}" for i in range(10_000)]
    recorder = Recorder()
    sink = EventSink(_settings(stack.kafka_bootstrap, tmp_path / "spool"), recorder.factory)
    await sink.start()
    worst = 0.0
    paused = False
    rate = 1500  # events/s: ~6.7 s of traffic, frozen broker from event 3000 to 7500 (3 s)
    started_at = time.monotonic()
    try:
        for i, key in enumerate(keys):
            if i == 3000:
                stack.kafka.pause()
                paused = True
            elif i == 7500:
                stack.kafka.resume()
                paused = False
            event = _click(key)
            started = time.perf_counter()
            sink.emit(TOPIC_CLICKS, key, event)
            worst = max(worst, time.perf_counter() - started)
            if i % 15 == 0:
                await asyncio.sleep(max(0.0, started_at + i / rate - time.monotonic()))
        await _drained(sink)
    finally:
        if paused:
            stack.kafka.resume()
        await sink.close()
    # Our side: every event was acked by the broker exactly once, live or replayed.
    assert recorder.acks == Counter(keys)
    stats = sink.stats
    assert stats.spooled_total > 0 and stats.send_errors_total > 0  # the pause did bite
    assert stats.replayed_total == stats.spooled_total
    assert stats.dropped_total == 0
    seen = await _consume(stack.kafka_bootstrap, prefix, lambda s: len(s) >= len(keys))
    assert set(seen) == set(keys), "lost events"
    # A batch in flight when the broker froze timed out on our side, was spooled and
    # replayed, but the frozen broker still wrote it when it woke: a non-idempotent
    # producer cannot avoid that (ingest dedupes by click id). Every other event -- all
    # those emitted while the broker was known to be down -- arrives exactly once.
    duplicated = {key for key, count in seen.items() if count > 1}
    assert duplicated <= recorder.in_doubt
    # A blocked emit would take the request timeout (2 s); allow for GC and a noisy box.
    assert worst < 0.1, f"emit took {worst * 1000:.1f} ms"


async def test_a_killed_broker_loses_nothing_of_ours(stack: LocalStack, tmp_path: Path) -> None:
    prefix = f"kill-{uuid.uuid4().hex[:8]}-"
    recorder = Recorder()
    sink = EventSink(_settings(stack.kafka_bootstrap, tmp_path / "spool"), recorder.factory)
    await sink.start()
    before, during, after = [], [], []

    async def emit(keys: list[str], count: int) -> None:
        for i in range(count):
            key = f"{prefix}{len(before) + len(during) + len(after)}"
            keys.append(key)
            sink.emit(TOPIC_CLICKS, key, _click(key))
            if i % 50 == 0:
                await asyncio.sleep(0.01)

    try:
        await emit(before, 3000)
        recorder.epoch = "dead"  # acks processed from now on were sent by the old broker
        stack.kafka.stop()
        await emit(during, 3000)
        # A batch fails once the client gives up on it, within the request timeout (2 s):
        # then everything emitted while the broker was dead is in the spool.
        await _until(lambda: not sink.stats.broker_up
                     and sink.stats.spooled_total >= len(during), timeout=6.0)
        spooled_while_down = sink.stats.spooled_total
        # From here on acks come from the new broker: batches the client still retries
        # (younger than the request timeout) may reach it before the topics are recreated.
        recorder.epoch = "new"
        stack.kafka.start()
        await ensure_topics(stack.kafka_bootstrap)
        await emit(after, 2000)
        await _drained(sink)
    finally:
        await sink.close()
        await _ensure_broker(stack)
    assert recorder.acks == Counter(before + during + after)  # each acked once, by someone
    old = {key for key, epoch in recorder.acked.items() if epoch != "new"}
    assert not old & set(during), "nothing emitted while the broker was dead can be acked by it"
    assert spooled_while_down >= len(during)
    expected = set(before + during + after) - old  # `old` died with tansu's memory storage
    seen = await _consume(stack.kafka_bootstrap, prefix, lambda s: set(s) >= expected)
    assert set(seen) == expected, f"lost {len(expected - set(seen))} events"
    # The restarted broker never saw any of these before: each arrives exactly once.
    assert max(seen.values()) == 1
    assert sink.stats.dropped_total == 0


async def test_close_with_broker_down_spools_all_and_a_new_sink_replays(
    stack: LocalStack, tmp_path: Path
) -> None:
    kafka_bootstrap = stack.kafka_bootstrap
    prefix = f"close-{uuid.uuid4().hex[:8]}-"
    keys = [f"{prefix}{i}" for i in range(8000)]
    spool_dir = tmp_path / "spool"
    # The same cluster, frozen: a sink only replays segments spooled for its own cluster.
    down = EventSink(_settings(kafka_bootstrap, spool_dir, buffer_size=5000))
    stack.kafka.pause()
    try:
        await down.start()
        for key in keys:  # no await: the buffer fills, the rest overflows to the spool
            down.emit(TOPIC_CLICKS, key, _click(key))
        assert down.stats.buffer_depth == 5000
        await down.close(timeout=5.0)
    finally:
        stack.kafka.resume()
    assert not down.stats.sent_total
    late = f"{prefix}late"
    down.emit(TOPIC_CLICKS, late, _click(late))  # after close: straight to the spool
    keys.append(late)
    segments = spool_mod.list_segments(spool_dir)
    assert segments and all(info.sealed for info in segments)
    spooled: list[str] = []
    for info in segments:
        with spool_mod.SpoolReader(info.path) as reader:
            spooled += [frame.key.decode() for frame in reader.read_all()]
    assert sorted(spooled) == sorted(keys)

    up = EventSink(_settings(kafka_bootstrap, spool_dir))
    await up.start()
    try:
        await _drained(up)
    finally:
        await up.close()
    assert up.stats.replayed_total == len(keys)
    seen = await _consume(kafka_bootstrap, prefix, lambda s: len(s) >= len(keys))
    assert set(seen) == set(keys)
    assert max(seen.values()) == 1


async def test_an_orphaned_segment_of_a_dead_worker_is_replayed(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    prefix = f"orphan-{uuid.uuid4().hex[:8]}-"
    spool_dir = tmp_path / "spool"
    # A worker spools 500 events and dies without sealing its segment (SIGKILL).
    code = (
        "import os, sys; from pathlib import Path; from turnout.edge.sink.spool import SpoolWriter;"
        "from turnout.events import ENCODER, TOPIC_CLICKS;"
        "from tests.integration.test_event_sink import _click;"
        "w = SpoolWriter(Path(sys.argv[1]));"
        "w.append([(TOPIC_CLICKS, f'{sys.argv[2]}{i}'.encode(),"
        " ENCODER.encode(_click(f'{sys.argv[2]}{i}'))) for i in range(500)]);"
        "os.kill(os.getpid(), 9)"
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", code, str(spool_dir), prefix, cwd=Path(__file__).parents[2]
    )
    assert await process.wait() == -9
    (orphan,) = spool_mod.list_segments(spool_dir)
    assert not orphan.sealed
    sink = EventSink(_settings(kafka_bootstrap, spool_dir))
    await sink.start()
    try:
        await _drained(sink)
    finally:
        await sink.close()
    assert sink.stats.replayed_total == 500
    seen = await _consume(kafka_bootstrap, prefix, lambda s: len(s) >= 500)
    assert set(seen) == {f"{prefix}{i}" for i in range(500)}
    assert max(seen.values()) == 1
