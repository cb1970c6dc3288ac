"""The on-disk spool: append-only segment files of framed (topic, key, value) records.

Frame layout (big endian)::

    MAGIC(2) | body_len u32 | crc32 u32 | body | "\\n"
    body = topic_len u8 | key_len u16 | topic | key | value

The CRC covers `body_len` and the body, so a torn header, a torn body and a stale length
all fail the check. MAGIC starts with 0xFF, a byte that never occurs in UTF-8, so inside
our payloads (UTF-8 topics, keys and JSON values) no false frame start can hide. A reader
that meets a bad frame scans forward for the next MAGIC whose frame checks out: a torn
tail after a power cut is skipped, and a damaged region in the middle (bad media) costs
only the frames inside it; both are counted in `SpoolReader.skipped_bytes`.

Segments are named `<time_ns>-<pid>-<seq>-<tag>.active` while a writer owns them (holding
an exclusive flock) and renamed `<time_ns>-<pid>-<seq>-<tag>-<frames>.seg` when sealed, so
names sort oldest first and carry their frame count. `tag` names the Kafka cluster the
events are for (`named_cluster_tag` of TURNOUT_KAFKA_CLUSTER, else `cluster_tag` of the
bootstrap servers): a replayer only takes segments of its own cluster (and, when it has a
name, those tagged with its bootstrap servers before it had one), because a worker
configured for another cluster would deliver them there and delete them -- a loss for the
cluster they were meant for. Untagged names (written
before tags existed, or renamed by an operator to hand them over) are replayed by anyone.
Replay progress lives beside a segment in `<segment>.done` (offset and frames acked so
far), so a replay interrupted by a crash resumes where it stopped instead of resending.

Nothing here uses asyncio: the sink calls the blocking parts (fsync, reads) from a thread.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import mmap
import os
import struct
import threading
import time
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal, NamedTuple

MAGIC: Final = b"\xff\xa5"
_HEAD = struct.Struct(">2sII")
_BODY_HEAD = struct.Struct(">BH")
_LEN = struct.Struct(">I")
_PROGRESS = struct.Struct(">QII")
MAX_BODY: Final = 16 * 1024 * 1024
ORPHAN_AGE_S: Final = 60.0

FsyncMode = Literal["batch", "always", "never"]
FSYNC_MODES: Final = ("batch", "always", "never")


class Frame(NamedTuple):
    topic: str
    key: bytes
    value: bytes


def encode_frame(topic: str, key: bytes, value: bytes) -> bytes:
    topic_bytes = topic.encode()
    if len(topic_bytes) > 255 or len(key) > 65535:
        raise ValueError("topic or key too long for a spool frame")
    body = _BODY_HEAD.pack(len(topic_bytes), len(key)) + topic_bytes + key + value
    if len(body) > MAX_BODY:
        raise ValueError(f"spool frame of {len(body)} bytes exceeds {MAX_BODY}")
    length = _LEN.pack(len(body))
    crc = zlib.crc32(body, zlib.crc32(length))
    return MAGIC + length + struct.pack(">I", crc) + body + b"\n"


def _decode_at(data: mmap.mmap | bytes, pos: int, end: int) -> tuple[Frame, int] | None:
    """The frame starting at `pos` and the offset after it, or None if it does not check."""
    if end - pos < _HEAD.size:
        return None
    magic, length, crc = _HEAD.unpack_from(data, pos)
    if magic != MAGIC or length > MAX_BODY or length < _BODY_HEAD.size:
        return None
    body_start = pos + _HEAD.size
    stop = body_start + length
    if stop + 1 > end or data[stop : stop + 1] != b"\n":
        return None
    body = data[body_start:stop]
    if zlib.crc32(body, zlib.crc32(data[pos + 2 : pos + 6])) != crc:
        return None
    topic_len, key_len = _BODY_HEAD.unpack_from(body, 0)
    key_start = _BODY_HEAD.size + topic_len
    value_start = key_start + key_len
    if value_start > length:
        return None
    try:
        topic = bytes(body[_BODY_HEAD.size : key_start]).decode()
    except UnicodeDecodeError:
        return None
    return Frame(topic, bytes(body[key_start:value_start]), bytes(body[value_start:])), stop + 1


def cluster_tag(bootstrap: str) -> str:
    """8 hex characters naming a Kafka cluster by its bootstrap servers (order-insensitive).
    The tag of segments written before clusters had names (TURNOUT_KAFKA_CLUSTER unset)."""
    servers = sorted({server.strip().lower() for server in bootstrap.split(",") if server.strip()})
    return hashlib.blake2s(",".join(servers).encode(), digest_size=4).hexdigest()


def named_cluster_tag(name: str) -> str:
    """8 hex characters naming a Kafka cluster by its TURNOUT_KAFKA_CLUSTER name, which
    stays the same when its address changes (`turnout dev` gets new ports each run). The
    prefix keeps a name from meaning the same as an identical bootstrap string."""
    return hashlib.blake2s(f"cluster:{name.strip()}".encode(), digest_size=4).hexdigest()


class ClusterTags(NamedTuple):
    """The tag a writer puts on its segments, and an older tag it also replays."""

    own: str
    legacy: str = ""

    @classmethod
    def of(cls, bootstrap: str, cluster: str = "") -> ClusterTags:
        """By name when the cluster has one; its bootstrap-tagged segments stay ours."""
        if not cluster.strip():
            return cls(cluster_tag(bootstrap))
        return cls(named_cluster_tag(cluster), cluster_tag(bootstrap))

    def accepts(self, tag: str) -> bool:
        return not tag or tag in {self.own, self.legacy} - {""}


class SpoolReader:
    """Reads the frames of one segment from `start`, in batches, skipping damage."""

    def __init__(self, path: Path, start: int = 0) -> None:
        self.path = path
        self.offset = start
        self.skipped_bytes = 0
        self.torn_tail = False
        self._file = path.open("rb")
        size = os.fstat(self._file.fileno()).st_size
        self._end = size
        self._map: mmap.mmap | None = None
        if size > 0:
            self._map = mmap.mmap(self._file.fileno(), 0, access=mmap.ACCESS_READ)

    def read(self, max_frames: int) -> list[tuple[int, Frame]]:
        """Up to `max_frames` frames, each with the offset just after it; [] at the end."""
        data, end = self._map, self._end
        out: list[tuple[int, Frame]] = []
        if data is None:
            return out
        pos = self.offset
        while pos < end and len(out) < max_frames:
            decoded = _decode_at(data, pos, end)
            if decoded is not None:
                frame, pos = decoded
                out.append((pos, frame))
                continue
            bad_start = pos
            pos = data.find(MAGIC, pos + 1, end)
            while pos != -1 and _decode_at(data, pos, end) is None:
                pos = data.find(MAGIC, pos + 1, end)
            if pos == -1:
                pos = end
                self.torn_tail = True
            self.skipped_bytes += pos - bad_start
        self.offset = pos
        return out

    def read_all(self) -> list[Frame]:
        frames: list[Frame] = []
        while batch := self.read(10_000):
            frames.extend(frame for _, frame in batch)
        return frames

    def close(self) -> None:
        if self._map is not None:
            self._map.close()
            self._map = None
        self._file.close()

    def __enter__(self) -> SpoolReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@dataclass
class _Segment:
    path: Path
    fd: int
    size: int = 0
    frames: int = 0


class SpoolWriter:
    """The one writer of this process: appends frames to its own active segment.

    Thread-safe: `append` runs on the event loop (a write into the page cache), while
    `sync` and `seal` may run in a worker thread; the lock only guards which file is
    active, never an fsync, so an append never waits for the disk.
    """

    def __init__(
        self, directory: Path, segment_bytes: int = 64 * 1024 * 1024, fsync: FsyncMode = "batch",
        tag: str = "",
    ) -> None:
        if fsync not in FSYNC_MODES:
            raise ValueError(f"fsync must be one of {FSYNC_MODES}, got {fsync!r}")
        if tag and (len(tag) != 8 or not tag.isalnum()):
            raise ValueError(f"segment tag must be 8 alphanumerics, got {tag!r}")
        self.directory = directory
        self.tag = tag
        self.segment_bytes = segment_bytes
        self.fsync = fsync
        directory.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._active: _Segment | None = None
        self._retired: list[_Segment] = []
        self._dirty = False
        self._seq = 0

    @property
    def active_frames(self) -> int:
        active = self._active
        return 0 if active is None else active.frames

    @property
    def needs_sync(self) -> bool:
        return self._dirty or bool(self._retired)

    def append(self, frames: Iterable[tuple[str, bytes, bytes]]) -> int:
        """Append frames; return the bytes written. Raises OSError with nothing half-written."""
        records = [encode_frame(topic, key, value) for topic, key, value in frames]
        if not records:
            return 0
        data = b"".join(records)
        with self._lock:
            segment = self._active or self._open()
            view = memoryview(data)
            try:
                while view:
                    view = view[os.write(segment.fd, view) :]
            except OSError:
                # A partial write (disk full) must not leave a torn frame before later ones.
                with contextlib.suppress(OSError):
                    os.ftruncate(segment.fd, segment.size)
                    os.lseek(segment.fd, segment.size, os.SEEK_SET)
                raise
            segment.size += len(data)
            segment.frames += len(records)
            self._dirty = True
            if self.fsync == "always":
                os.fsync(segment.fd)
            if segment.size >= self.segment_bytes:
                self._retired.append(segment)
                self._active = None
        return len(data)

    def sync(self) -> None:
        """Make appended frames durable (per fsync mode) and seal rotated segments."""
        with self._lock:
            retired, self._retired = self._retired, []
            active = self._active
            dup = os.dup(active.fd) if active is not None and self._dirty else None
            self._dirty = False
        for segment in retired:
            self._seal(segment)
        if dup is not None:
            try:
                if self.fsync != "never":
                    os.fsync(dup)
            finally:
                os.close(dup)

    def seal(self) -> None:
        """Close the active segment so a replayer may take it; the next append opens one."""
        with self._lock:
            if self._active is not None:
                self._retired.append(self._active)
                self._active = None
        self.sync()

    def close(self, fsync: bool = True) -> None:
        with self._lock:
            if self._active is not None:
                self._retired.append(self._active)
                self._active = None
            retired, self._retired = self._retired, []
            self._dirty = False
        for segment in retired:
            self._seal(segment, force_fsync=fsync)

    def _open(self) -> _Segment:
        self._seq += 1
        tag = f"-{self.tag}" if self.tag else ""
        path = self.directory / f"{time.time_ns():020d}-{os.getpid()}-{self._seq:06d}{tag}.active"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        if self.fsync != "never":
            _fsync_dir(self.directory)
        self._active = _Segment(path, fd)
        return self._active

    def _seal(self, segment: _Segment, force_fsync: bool = False) -> None:
        try:
            if self.fsync != "never" or force_fsync:
                os.fsync(segment.fd)
            sealed = segment.path.with_name(f"{segment.path.stem}-{segment.frames}.seg")
            os.rename(segment.path, sealed)
            if self.fsync != "never" or force_fsync:
                _fsync_dir(self.directory)
        finally:
            os.close(segment.fd)  # releases the flock: replayers may take it now


class SegmentInfo(NamedTuple):
    path: Path
    pid: int
    frames: int  # -1 when unknown (an active segment)
    sealed: bool
    tag: str = ""  # the cluster tag; "" when untagged (replayable by any cluster)


def parse_name(path: Path) -> SegmentInfo | None:
    parts = path.stem.split("-")
    sealed = path.suffix == ".seg"
    if not sealed and path.suffix != ".active":
        return None
    if sealed:
        *parts, frames_text = parts
    tag = parts.pop() if len(parts) == 4 else ""
    if len(parts) != 3 or (tag and len(tag) != 8):
        return None
    try:
        int(parts[0]), int(parts[2])
        return SegmentInfo(path, int(parts[1]), int(frames_text) if sealed else -1, sealed, tag)
    except ValueError:
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def list_segments(directory: Path) -> list[SegmentInfo]:
    """Every segment in the spool directory, oldest first."""
    if not directory.is_dir():
        return []
    found = [info for p in directory.iterdir() if (info := parse_name(p)) is not None]
    return sorted(found, key=lambda info: info.path.name)


def replayable(info: SegmentInfo, now: float | None = None,
               tag: str | ClusterTags = "") -> bool:
    """Segments of cluster `tag` (or untagged): sealed ones always; an active one only when
    its writer looks dead. An empty `tag` takes any cluster's (tools, tests)."""
    tags = tag if isinstance(tag, ClusterTags) else ClusterTags(tag)
    if tags.own and not tags.accepts(info.tag):
        return False
    if info.sealed:
        return True
    if info.pid != os.getpid() and not _alive(info.pid):
        return True
    # A reused pid must not strand an orphan forever: a live writer holds the flock, so
    # an old, unlocked active segment is an orphan too (claim() checks the lock).
    with contextlib.suppress(FileNotFoundError):
        age = (now or time.time()) - info.path.stat().st_mtime
        return info.pid != os.getpid() and age > ORPHAN_AGE_S
    return False


class Claim:
    """An exclusive flock on one segment for replay; at most one replayer per segment."""

    def __init__(self, info: SegmentInfo, fd: int) -> None:
        self.info = info
        self._fd = fd
        self.progress_path = info.path.with_name(info.path.name + ".done")

    @classmethod
    def take(cls, info: SegmentInfo) -> Claim | None:
        try:
            fd = os.open(info.path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            # Another replayer may have finished and deleted it, or its writer renamed it
            # while we waited: only replay the file the name still points at.
            if os.stat(info.path).st_ino != os.fstat(fd).st_ino:
                raise FileNotFoundError(info.path)
        except (BlockingIOError, FileNotFoundError):
            os.close(fd)
            return None
        return cls(info, fd)

    def progress(self) -> tuple[int, int]:
        """(offset, frames) acked so far; (0, 0) when absent or unreadable."""
        try:
            data = self.progress_path.read_bytes()
        except FileNotFoundError:
            return 0, 0
        if len(data) != _PROGRESS.size:
            return 0, 0
        offset, frames, crc = _PROGRESS.unpack(data)
        if zlib.crc32(data[:12]) != crc:
            return 0, 0  # resending is safe (ingest dedupes); skipping would lose events
        return offset, frames

    def save_progress(self, offset: int, frames: int, fsync: bool) -> None:
        head = struct.pack(">QI", offset, frames)
        data = head + struct.pack(">I", zlib.crc32(head))
        fd = os.open(self.progress_path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            os.pwrite(fd, data, 0)
            if fsync:
                os.fsync(fd)
        finally:
            os.close(fd)

    def finish(self) -> None:
        """Every frame was acked (or re-spooled): delete the segment, then its progress."""
        os.unlink(self.info.path)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.progress_path)
        self.release()

    def release(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def spool_usage(directory: Path) -> tuple[int, int]:
    """(bytes on disk, frames known to be pending) over the whole spool directory."""
    total_bytes = 0
    pending = 0
    for info in list_segments(directory):
        try:
            total_bytes += info.path.stat().st_size
        except FileNotFoundError:
            continue
        if info.frames >= 0:
            done = 0
            progress = info.path.with_name(info.path.name + ".done")
            with contextlib.suppress(FileNotFoundError):
                data = progress.read_bytes()
                if len(data) == _PROGRESS.size:
                    _, acked, crc = _PROGRESS.unpack(data)
                    done = acked if zlib.crc32(data[:12]) == crc else 0
            pending += max(0, info.frames - done)
    return total_bytes, pending


def remove_stale_progress(directory: Path) -> None:
    """Progress files whose segment is gone (a crash between the two unlinks)."""
    if not directory.is_dir():
        return
    for progress in directory.glob("*.done"):
        segment = progress.with_name(progress.name[: -len(".done")])
        if not segment.exists():
            with contextlib.suppress(FileNotFoundError):
                progress.unlink()
