"""The accumulator alone: encoding at emit(), the bound, batches by size and by time."""

from __future__ import annotations

import asyncio

from turnout.edge.sink.accumulator import Accumulator
from turnout.edge.sink.batches import Record
from turnout.events import ENCODER, TOPIC_CLICKS, TOPIC_EVENTS, Event


class _Disk:
    """Stands in for the spooler: keeps what it was given."""

    def __init__(self) -> None:
        self.spooled: list[list[Record]] = []
        self.dropped: list[tuple[int, str]] = []

    def spool(self, records: list[Record]) -> None:
        self.spooled.append(records)

    def drop(self, count: int, reason: str) -> None:
        self.dropped.append((count, reason))


def _accumulator(disk: _Disk, buffer_size: int = 100, batch_size: int = 10,
                 linger_ms: int = 50) -> Accumulator:
    return Accumulator(buffer_size, batch_size, linger_ms, 0.5, spool=disk.spool,
                       drop=disk.drop, wake=asyncio.Event())


def _event(key: str) -> Event:
    return Event(event_id=key, name="view", ts_ms=1)


def _fill(accumulator: Accumulator, count: int, topic: str = TOPIC_EVENTS) -> None:
    for i in range(count):
        accumulator.emit(topic, f"k{i}", _event(f"k{i}"))


def test_emit_encodes_into_the_buffer() -> None:
    accumulator = _accumulator(_Disk())
    event = _event("k")
    accumulator.emit(TOPIC_CLICKS, "k", event)
    assert list(accumulator.buffer) == [(TOPIC_CLICKS, b"k", ENCODER.encode(event))]


def test_a_full_buffer_hands_each_further_record_to_the_spool() -> None:
    disk = _Disk()
    accumulator = _accumulator(disk, buffer_size=3)
    _fill(accumulator, 5)
    assert len(accumulator) == 3
    assert [[key for _, key, _ in batch] for batch in disk.spooled] == [[b"k3"], [b"k4"]]


def test_an_unencodable_event_is_dropped_not_buffered() -> None:
    disk = _Disk()
    accumulator = _accumulator(disk)
    accumulator.emit(TOPIC_EVENTS, "bad-\ud800", _event("k"))
    assert len(accumulator) == 0 and not disk.spooled
    ((count, reason),) = disk.dropped
    assert count == 1 and reason.startswith(f"unencodable event on {TOPIC_EVENTS}")


def test_take_gives_batches_of_batch_size_oldest_first_across_topics() -> None:
    accumulator = _accumulator(_Disk(), batch_size=4)
    _fill(accumulator, 3, TOPIC_CLICKS)
    _fill(accumulator, 3, TOPIC_EVENTS)
    first, second, third = accumulator.take(), accumulator.take(), accumulator.take()
    assert [(topic, key) for topic, key, _ in first] == [
        (TOPIC_CLICKS, b"k0"), (TOPIC_CLICKS, b"k1"), (TOPIC_CLICKS, b"k2"),
        (TOPIC_EVENTS, b"k0"),
    ]
    assert [key for _, key, _ in second] == [b"k1", b"k2"]
    assert third == []


def test_spill_spools_the_oldest_a_batch_at_a_time_and_keeps_the_newest() -> None:
    disk = _Disk()
    accumulator = _accumulator(disk, batch_size=4)
    _fill(accumulator, 11)
    accumulator.spill(keep=2)
    assert [len(batch) for batch in disk.spooled] == [4, 4, 1]
    assert [key for _, key, _ in accumulator.buffer] == [b"k9", b"k10"]
    accumulator.spill(keep=-5)
    assert len(accumulator) == 0


async def test_a_partial_batch_lingers_a_full_one_does_not() -> None:
    loop = asyncio.get_running_loop()
    accumulator = _accumulator(_Disk(), batch_size=10, linger_ms=50)
    _fill(accumulator, 9)
    started = loop.time()
    await accumulator.linger()
    assert loop.time() - started >= 0.045
    slow = _accumulator(_Disk(), batch_size=10, linger_ms=2000)
    _fill(slow, 10)
    started = loop.time()
    await slow.linger()
    assert loop.time() - started < 1.0


async def test_no_linger_once_closed_and_emit_then_spools() -> None:
    loop = asyncio.get_running_loop()
    disk = _Disk()
    accumulator = _accumulator(disk, linger_ms=2000)
    _fill(accumulator, 1)
    accumulator.close()
    started = loop.time()
    await accumulator.linger()
    assert loop.time() - started < 1.0
    accumulator.emit(TOPIC_EVENTS, "late", _event("late"))
    assert len(accumulator) == 1
    assert [key for _, key, _ in disk.spooled[0]] == [b"late"]


async def test_an_idle_waiter_wakes_on_the_next_emit_or_wake() -> None:
    accumulator = _accumulator(_Disk())
    waiter = asyncio.create_task(accumulator.wait())
    await asyncio.sleep(0.01)
    assert not waiter.done()
    _fill(accumulator, 1)
    await asyncio.wait_for(waiter, 1.0)
    waiter = asyncio.create_task(accumulator.wait())
    await asyncio.sleep(0.01)
    accumulator.wake()
    await asyncio.wait_for(waiter, 1.0)
