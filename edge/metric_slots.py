"""The file through which `turnout edge --workers N` adds its workers' metrics up.

The parent (uvicorn's supervisor) creates it before starting the workers, under a name
made of its pid, so a worker finds it from `os.getppid()`, and removes it when they are
gone. Each worker claims a slot and
holds an exclusive lock on the slot's first byte for as long as it lives; the kernel
drops the lock when the process dies, however it dies, so "the lock is held" is "the
worker is alive", and a replacement claims the first slot nobody holds. It takes over the
slot's counters (edge.exposition.counted) so that they never go backwards, and the file
stays as long as the most workers that were ever alive at once.

A slot has two halves; a write goes to the older one, with a generation number and a
CRC-32 over all of it. A reader takes the newest half whose CRC holds, so a write it
overlaps, or one that a killed worker left half done, shows the previous sample instead.
Reads and writes are pread/pwrite on a tmpfs file (/dev/shm when there is one): a few
microseconds each, once a second per worker and once per slot per scrape.

Locks are POSIX record locks (fcntl.lockf), which belong to the process and are all
released when it closes *any* descriptor of the file: a process opens the file once.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import struct
import tempfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Final

import msgspec

from turnout.edge.exposition import Sample, Slot

MAGIC: Final = b"turnout-metrics1"
HEADER: Final = 64  # the magic, then the slot size; bytes 0 and 1 are locks:
_CLAIM: Final = 0  # one process at a time claims a slot or asks who is alive
_PARENT: Final = 1  # held by the parent while it runs
HALF: Final = 32 * 1024
SLOT: Final = 2 * HALF
_RECORD: Final = struct.Struct("<QII")  # generation, payload length, CRC-32
_HEAD: Final = struct.Struct("<16sI")
_NAME: Final = "turnout-edge-metrics-{pid}"
_NAMED: Final = re.compile(r"turnout-edge-metrics-(\d+)")
_ENCODER: Final = msgspec.msgpack.Encoder()
_DECODER: Final = msgspec.msgpack.Decoder(dict[str, dict[str, int | float]])


class SlotFileError(Exception):
    """The file is missing, not ours, or not a metrics file."""


def directory() -> Path:
    shm = Path("/dev/shm")
    return shm if shm.is_dir() and os.access(shm, os.W_OK) else Path(tempfile.gettempdir())


def path_for(supervisor_pid: int, where: Path | None = None) -> Path:
    return (where or directory()) / _NAME.format(pid=supervisor_pid)


@contextlib.contextmanager
def parent_file(path: Path, slots: int) -> Iterator[None]:
    """The parent's file, with room for `slots` workers (it grows if more come), for as
    long as the parent runs; it holds the parent lock all along, so a file whose parent
    lock is free was left by a parent that died (SIGKILL) and is removed."""
    remove_stale(path.parent)
    with contextlib.suppress(FileNotFoundError):
        path.unlink()  # a dead parent's with our pid: nobody uses it
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, _PARENT)  # before another sees it
        os.pwrite(fd, _HEAD.pack(MAGIC, SLOT), 0)
        os.ftruncate(fd, HEADER + SLOT * slots)
        yield
    finally:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        os.close(fd)


def remove_stale(where: Path) -> None:
    for found in where.glob("turnout-edge-metrics-*"):
        if _NAMED.fullmatch(found.name) is None:
            continue
        with contextlib.suppress(OSError):
            fd = os.open(found, os.O_RDWR)
            try:
                if os.fstat(fd).st_uid == os.getuid() and not _held(fd, _PARENT):
                    found.unlink()
            finally:
                os.close(fd)


def encode(generation: int, sample: Sample) -> bytes:
    payload = _ENCODER.encode(sample)
    if _RECORD.size + len(payload) > HALF:
        raise ValueError(f"metrics sample of {len(payload)} bytes exceeds a slot")
    head = struct.pack("<QI", generation, len(payload))
    return _RECORD.pack(generation, len(payload), zlib.crc32(payload, zlib.crc32(head))) + payload


def decode(half: bytes) -> tuple[int, Sample] | None:
    """(generation, sample) of a half, or None when it is empty or torn."""
    if len(half) < _RECORD.size:
        return None
    generation, length, crc = _RECORD.unpack_from(half)
    payload = half[_RECORD.size:_RECORD.size + length]
    if generation == 0 or len(payload) != length:
        return None
    if zlib.crc32(payload, zlib.crc32(struct.pack("<QI", generation, length))) != crc:
        return None
    try:
        return generation, _DECODER.decode(payload)
    except msgspec.DecodeError:
        return None


def newest(slot: bytes) -> tuple[int, Sample] | None:
    found = [record for record in (decode(slot[:HALF]), decode(slot[HALF:])) if record]
    return max(found, key=lambda record: record[0]) if found else None


class WorkerSlot:
    """A worker's slot in the parent's file: its writes, and its reads of every slot."""

    def __init__(self, fd: int, index: int, generation: int, inherited: Sample) -> None:
        self._fd = fd
        self.index = index
        self._generation = generation
        self.inherited = inherited  # the slot's last sample when claimed (a dead worker's)
        self._seen: dict[int, tuple[int, Sample]] = {}

    @classmethod
    def claim(cls, path: Path) -> WorkerSlot:
        try:
            fd = os.open(path, os.O_RDWR)
        except OSError as exc:
            raise SlotFileError(f"{path}: {exc.strerror}") from None
        try:
            info = os.fstat(fd)
            magic, size = _HEAD.unpack(os.pread(fd, _HEAD.size, 0))
            if info.st_uid != os.getuid() or magic != MAGIC or size != SLOT:
                raise SlotFileError(f"{path}: not this user's edge metrics file")
            with _claiming(fd):
                index = _free_slot(fd)
                record = newest(os.pread(fd, SLOT, HEADER + index * SLOT))
        except BaseException:
            os.close(fd)
            raise
        generation, inherited = record or (0, {})
        return cls(fd, index, generation, inherited)

    def write(self, sample: Sample) -> None:
        generation = self._generation + 1
        record = encode(generation, sample)
        os.pwrite(self._fd, record, HEADER + self.index * SLOT + (generation % 2) * HALF)
        self._generation = generation

    def read_all(self) -> list[Slot]:
        """Every slot's newest sample, and whether a live worker holds it."""
        with _claiming(self._fd):
            count = (os.fstat(self._fd).st_size - HEADER) // SLOT
            live = [index == self.index or _held(self._fd, HEADER + index * SLOT)
                    for index in range(count)]
        slots = []
        for index in range(count):
            record = newest(os.pread(self._fd, SLOT, HEADER + index * SLOT))
            seen = self._seen.get(index)
            if record is None or (seen is not None and record[0] < seen[0]):
                record = seen  # both halves torn by writes during this read: the last seen
            if record is not None:
                self._seen[index] = record
            slots.append(Slot(index, live[index], record[1] if record else {}))
        return slots

    def close(self) -> None:
        os.close(self._fd)  # drops the slot's lock: it keeps the last sample written


@contextlib.contextmanager
def _claiming(fd: int) -> Iterator[None]:
    """The file's claim lock: one process at a time claims a slot or asks who is alive."""
    fcntl.lockf(fd, fcntl.LOCK_EX, 1, _CLAIM)
    try:
        yield
    finally:
        fcntl.lockf(fd, fcntl.LOCK_UN, 1, _CLAIM)


def _free_slot(fd: int) -> int:
    """Lock the first slot nobody holds (growing the file when all are held)."""
    count = (os.fstat(fd).st_size - HEADER) // SLOT
    for index in range(count):
        with contextlib.suppress(OSError):
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, HEADER + index * SLOT)
            return index
    os.ftruncate(fd, HEADER + SLOT * (count + 1))
    fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, HEADER + count * SLOT)
    return count


def _held(fd: int, start: int) -> bool:
    """Whether another process holds the lock at `start` (a slot's: asked under the claim
    lock, so that a claim never sees the probe's own brief lock)."""
    try:
        fcntl.lockf(fd, fcntl.LOCK_SH | fcntl.LOCK_NB, 1, start)
    except OSError:
        return True
    fcntl.lockf(fd, fcntl.LOCK_UN, 1, start)
    return False
