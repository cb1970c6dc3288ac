"""The sender: delivery accounting and a stalled broker, through the sink's own wiring."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

from tests.unit.edge_sink.support import ScriptedProducer, settings_for, spooled_keys, until
from turnout.edge.sink import EventSink
from turnout.events import TOPIC_CLICKS, TOPIC_EVENTS, Event


async def test_a_delivery_cancelled_before_it_ran_is_spooled(tmp_path: Path) -> None:
    # close() cancels deliveries still in flight; one cancelled before its first step
    # never reaches its own cleanup, and its records must still land in the spool.
    sink = EventSink(settings_for(tmp_path))
    records = [(TOPIC_CLICKS, f"c{i}".encode(), b"{}") for i in range(5)]
    task = sink._sender.start_delivery(list(records))
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await asyncio.sleep(0)  # done callbacks run on the next loop pass
    assert sorted(spooled_keys(tmp_path)) == [f"c{i}" for i in range(5)]
    assert sink.stats.spooled_total == 5 and not sink._sender.in_flight
    await sink.close(timeout=1.0)


async def test_settle_counts_the_acked_and_spools_the_rest(tmp_path: Path) -> None:
    sink = EventSink(settings_for(tmp_path))
    sink._connector.up = True
    records = [(TOPIC_CLICKS, b"a", b"{}"), (TOPIC_CLICKS, b"b", b"{}"),
               (TOPIC_EVENTS, b"c", b"{}"), (TOPIC_EVENTS, b"d", b"{}")]
    unacked = sink._sender.settle(records, [True, False, True, False])
    assert unacked == [records[1], records[3]]
    stats = sink.stats
    assert stats.sent_total == {TOPIC_CLICKS: 1, TOPIC_EVENTS: 1}
    assert stats.send_errors_total == 1 and stats.spooled_total == 2
    assert not stats.broker_up
    assert sorted(spooled_keys(tmp_path)) == ["b", "d"]
    assert sink._sender.settle(records[:1], [True]) == []
    assert sink.stats.send_errors_total == 1
    await sink.close(timeout=1.0)


async def test_a_stalled_sender_spools_the_buffer_above_the_high_water_mark(
    tmp_path: Path
) -> None:
    producer = ScriptedProducer(lambda key: False, hold=True)  # up, but never answers
    sink = EventSink(settings_for(tmp_path, buffer_size=100, batch_size=10, max_in_flight=1,
                                  high_water=0.5), lambda _: producer)
    await sink.start()
    await until(lambda: sink.stats.broker_up)
    for i in range(100):
        sink.emit(TOPIC_CLICKS, f"k{i}", Event(event_id=f"k{i}", name="view", ts_ms=1))
    # One sink batch in flight, the buffer spooled a batch per cycle down to the mark, not below.
    await until(lambda: sink.stats.buffer_depth <= 50)
    await asyncio.sleep(0.1)
    stats = sink.stats
    assert stats.buffer_depth == 50 and stats.spooled_total == 40
    assert sum(len(keys) for _, _, keys in producer.batches) == 10 and stats.broker_up
    await sink.close(timeout=0.5)
    # Closing gives up on the unanswered batch: it is spooled with the rest.
    assert sorted(spooled_keys(tmp_path)) == sorted(f"k{i}" for i in range(100))
    assert sink.stats.spooled_total == 100


async def _sent_with(tmp_path: Path, **overrides: object) -> ScriptedProducer:
    producer = ScriptedProducer(lambda key: False)
    sink = EventSink(settings_for(tmp_path, **overrides), lambda _: producer)
    await sink.start()
    await until(lambda: sink.stats.broker_up)
    for i in range(30):
        sink.emit(TOPIC_CLICKS, f"k{i}", Event(event_id=f"k{i}", name="view", ts_ms=1))
    await until(lambda: len(producer.acked) == 30)
    await sink.close(timeout=1.0)
    return producer


async def test_batches_are_compressed_off_the_event_loop(tmp_path: Path) -> None:
    producer = await _sent_with(tmp_path)
    loop_thread = threading.current_thread().name
    assert producer.built_in and all(name and name != loop_thread and "turnout-sink-seal" in name
                                     for name in producer.built_in)


async def test_with_the_idempotent_producer_aiokafka_builds_its_batches(tmp_path: Path) -> None:
    # It stamps sequence numbers into the batch header first: a batch built by us is sealed.
    producer = await _sent_with(tmp_path, idempotence=True)
    assert producer.built_in and all(name is None for name in producer.built_in)


async def test_a_batch_that_cannot_be_built_is_spooled_not_lost(tmp_path: Path) -> None:
    producer = ScriptedProducer(lambda key: False)

    def broken() -> bytes:
        raise ValueError("codec failed")

    real_create = producer.create_batch

    def create_batch() -> Any:
        batch = real_create()
        batch._build = broken  # type: ignore[method-assign]
        return batch

    producer.create_batch = create_batch  # type: ignore[method-assign]
    sink = EventSink(settings_for(tmp_path), lambda _: producer)
    await sink.start()
    await until(lambda: sink.stats.broker_up)
    for i in range(5):
        sink.emit(TOPIC_CLICKS, f"k{i}", Event(event_id=f"k{i}", name="view", ts_ms=1))
    await until(lambda: sink.stats.spooled_total == 5)
    assert producer.batches == [] and "codec failed" in sink.stats.last_error
    await sink.close(timeout=1.0)
    # Replays fail the same way and copy them within the spool: all there, none lost.
    assert set(spooled_keys(tmp_path)) == {f"k{i}" for i in range(5)}
