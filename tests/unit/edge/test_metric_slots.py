"""The workers' shared metrics file: slots held by live processes, torn writes survived."""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Iterator
from multiprocessing.connection import Connection
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from turnout.edge import metric_slots
from turnout.edge.metric_slots import HALF, HEADER, SLOT, SlotFileError, WorkerSlot
from turnout.edge.metrics import Metrics

SPAWN = multiprocessing.get_context("spawn")  # as uvicorn starts its workers
CLICKS = '{route="c",status="302"}'


def clicks(n: int) -> dict[str, dict[str, int | float]]:
    return {"turnout_edge_requests_total": {CLICKS: n}}


def hold_a_slot(path: str, n: int, pipe: Connection) -> None:
    """A worker: claim, publish `n` clicks, say which slot and what it inherited, then
    live until told to go."""
    slot = WorkerSlot.claim(Path(path))
    slot.write(clicks(n))
    pipe.send((slot.index, slot.inherited))
    pipe.recv()


class Worker:
    def __init__(self, path: Path, n: int) -> None:
        self._pipe, theirs = SPAWN.Pipe()
        self.process = SPAWN.Process(target=hold_a_slot, args=(str(path), n, theirs))
        self.process.start()
        self.index, self.inherited = self._pipe.recv()

    def exit(self) -> None:
        self._pipe.send("go")
        self.process.join(10)


@pytest.fixture
def path(tmp_path: Path) -> Iterator[Path]:
    found = metric_slots.path_for(os.getpid(), tmp_path)
    with metric_slots.parent_file(found, 1):
        yield found
    assert not found.exists()


samples = st.dictionaries(
    st.text(min_size=1, max_size=30), st.dictionaries(
        st.text(max_size=30), st.integers(0, 2**63 - 1) | st.floats(allow_nan=False),
        max_size=5), max_size=5)


@given(st.integers(1, 2**40), samples)
def test_a_record_reads_back_and_a_damaged_one_not_at_all(generation, sample):
    record = metric_slots.encode(generation, sample)
    assert metric_slots.decode(record) == (generation, sample)
    assert metric_slots.decode(record + bytes(HALF - len(record))) == (generation, sample)
    for at in range(len(record)):  # any byte changed: header, length, CRC or payload
        torn = bytearray(record + bytes(HALF - len(record)))
        torn[at] ^= 0x5A
        assert metric_slots.decode(bytes(torn)) is None
    assert metric_slots.decode(record[:-1]) is None


def test_a_sample_too_big_for_a_slot_is_refused():
    with pytest.raises(ValueError):
        metric_slots.encode(1, {"x": {str(i): i for i in range(HALF // 4)}})


def test_a_reader_takes_the_newest_whole_half_and_never_an_older_one(path):
    # Slots made straight from descriptors: no locks, so opening and closing more of them
    # in this process changes nothing.
    fds = [os.open(path, os.O_RDWR) for _ in range(3)]
    writer, reader, fresh = (WorkerSlot(fd, 0, 0, {}) for fd in fds)
    try:
        writer.write(clicks(1))
        writer.write(clicks(2))
        assert reader.read_all()[0].sample == clicks(2)
        writer.write(clicks(3))  # generation 3 goes into the half of generation 1
        assert reader.read_all()[0].sample == clicks(3)
        os.pwrite(fds[0], b"\xff" * 16, HEADER + HALF + 20)  # then torn by a dying writer
        assert fresh.read_all()[0].sample == clicks(2)  # the newest whole half
        assert reader.read_all()[0].sample == clicks(3)  # not back to one it saw before
        writer.write(clicks(4))
        assert reader.read_all()[0].sample == fresh.read_all()[0].sample == clicks(4)
    finally:
        for slot in (writer, reader, fresh):
            slot.close()


def test_slots_are_held_by_live_processes_and_kept_after_them(path):
    first = Worker(path, 5)
    assert first.index == 0 and first.inherited == {}
    mine = WorkerSlot.claim(path)  # slot 0 is held: this process takes a new one
    try:
        assert mine.index == 1
        assert os.stat(path).st_size == HEADER + 2 * SLOT  # the file grew
        mine.write(clicks(1))
        assert [(s.index, s.live, s.sample) for s in mine.read_all()] == [
            (0, True, clicks(5)), (1, True, clicks(1))]
        first.exit()
        assert [(s.index, s.live, s.sample) for s in mine.read_all()] == [
            (0, False, clicks(5)), (1, True, clicks(1))]
        second = Worker(path, 2)  # the first free slot, with what its last holder left
        assert second.index == 0 and second.inherited == clicks(5)
        assert mine.read_all()[0].live
        second.exit()
    finally:
        mine.close()


async def test_a_workers_metrics_publish_its_predecessors_counts_and_its_own(path):
    dead = Worker(path, 7)
    dead.exit()
    slot = WorkerSlot.claim(path)
    metrics = Metrics(slot)
    metrics.gauge("turnout_edge_graph_version", "Graph version.", lambda: 3)
    metrics.route("c").count(302)
    metrics.start()
    text = metrics.render()  # the answering worker publishes before it reads
    assert f"turnout_edge_requests_total{CLICKS} 8" in text
    assert 'turnout_edge_worker_up{worker="0"} 1' in text
    assert "turnout_edge_graph_version 3" in text
    metrics.route("c").count(302)
    await metrics.close()  # publishes once more, then frees the slot
    successor = Worker(path, 0)
    assert successor.inherited["turnout_edge_requests_total"] == {CLICKS: 9}
    assert successor.inherited["turnout_edge_graph_version"] == {"": 3}  # dropped on use
    successor.exit()


def test_a_file_that_is_not_ours_is_refused(tmp_path):
    other = tmp_path / "turnout-edge-metrics-1"
    other.write_bytes(b"x" * (HEADER + SLOT))
    with pytest.raises(SlotFileError):
        WorkerSlot.claim(other)
    with pytest.raises(SlotFileError):
        WorkerSlot.claim(tmp_path / "missing")


def be_a_parent(path: str, pipe: Connection) -> None:
    with metric_slots.parent_file(Path(path), 1):
        pipe.send("running")
        pipe.recv()


def test_files_of_dead_parents_are_removed(tmp_path):
    ours, theirs = SPAWN.Pipe()
    running = metric_slots.path_for(1, tmp_path)  # a parent that runs, whatever its pid
    parent = SPAWN.Process(target=be_a_parent, args=(str(running), theirs))
    parent.start()
    assert ours.recv() == "running"
    stale = metric_slots.path_for(2, tmp_path)  # its parent was killed: nobody holds it
    stale.write_bytes(b"")
    other = tmp_path / "turnout-edge-metrics-notes"
    other.write_bytes(b"")
    mine = metric_slots.path_for(os.getpid(), tmp_path)
    with metric_slots.parent_file(mine, 2):
        assert not stale.exists() and running.exists() and other.exists()
        assert os.stat(mine).st_size == HEADER + 2 * SLOT
    ours.send("go")
    parent.join(10)
    assert not running.exists()  # removed by its parent on the way out
