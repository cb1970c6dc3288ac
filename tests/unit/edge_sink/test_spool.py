from __future__ import annotations

import fcntl
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from turnout.edge.sink import spool
from turnout.edge.sink.spool import Claim, Frame, SpoolReader, SpoolWriter, encode_frame

topics = st.text(min_size=1, max_size=40)
keys = st.binary(max_size=64)
values = st.binary(max_size=300)
frames = st.lists(st.tuples(topics, keys, values), max_size=20)


def _write(path: Path, records: list[tuple[str, bytes, bytes]]) -> list[int]:
    """Write frames; return the end offset of each."""
    ends = []
    with path.open("wb") as f:
        for record in records:
            f.write(encode_frame(*record))
            ends.append(f.tell())
    return ends


def _read(path: Path) -> tuple[list[Frame], SpoolReader]:
    with SpoolReader(path) as reader:
        return reader.read_all(), reader


@given(frames)
@settings(max_examples=100, deadline=None)
def test_frames_round_trip(tmp_path_factory: pytest.TempPathFactory, records) -> None:
    path = tmp_path_factory.mktemp("rt") / "seg"
    _write(path, records)
    got, reader = _read(path)
    assert got == [Frame(*r) for r in records]
    assert reader.skipped_bytes == 0


@given(frames.filter(bool), st.data())
@settings(max_examples=200, deadline=None)
def test_truncation_at_any_byte_loses_only_the_torn_frame(
    tmp_path_factory: pytest.TempPathFactory, records, data
) -> None:
    path = tmp_path_factory.mktemp("torn") / "seg"
    ends = _write(path, records)
    cut = data.draw(st.integers(0, ends[-1]))
    os.truncate(path, cut)
    got, reader = _read(path)
    whole = sum(1 for end in ends if end <= cut)
    assert got == [Frame(*r) for r in records[:whole]]
    assert reader.skipped_bytes == cut - (ends[whole - 1] if whole else 0)


@given(frames.filter(lambda r: len(r) >= 3), st.data())
@settings(max_examples=100, deadline=None)
def test_a_damaged_middle_frame_costs_only_itself(
    tmp_path_factory: pytest.TempPathFactory, records, data
) -> None:
    path = tmp_path_factory.mktemp("rot") / "seg"
    ends = _write(path, records)
    victim = data.draw(st.integers(0, len(records) - 1))
    start = ends[victim - 1] if victim else 0
    flip = data.draw(st.integers(start, ends[victim] - 1))
    raw = bytearray(path.read_bytes())
    raw[flip] ^= 0x40
    path.write_bytes(bytes(raw))
    got, reader = _read(path)
    assert got == [Frame(*r) for i, r in enumerate(records) if i != victim]
    assert reader.skipped_bytes > 0


def test_reader_resumes_from_an_offset(tmp_path: Path) -> None:
    path = tmp_path / "seg"
    records = [("t", b"k%d" % i, b"v" * i) for i in range(10)]
    ends = _write(path, records)
    with SpoolReader(path, start=ends[3]) as reader:
        batch = reader.read(4)
        assert [f.key for _, f in batch] == [b"k4", b"k5", b"k6", b"k7"]
        assert [end for end, _ in batch] == ends[4:8]
        assert [f.key for _, f in reader.read(100)] == [b"k8", b"k9"]
        assert reader.read(100) == []


def test_empty_segment_reads_as_nothing(tmp_path: Path) -> None:
    path = tmp_path / "seg"
    path.touch()
    assert _read(path)[0] == []


def test_oversized_key_is_refused() -> None:
    with pytest.raises(ValueError):
        encode_frame("t", b"k" * 70_000, b"")


def test_writer_rotates_and_seals_with_frame_counts(tmp_path: Path) -> None:
    writer = SpoolWriter(tmp_path, segment_bytes=1000, fsync="batch")
    for i in range(30):
        writer.append([("t", b"key%02d" % i, b"x" * 100)])
    writer.sync()
    segments = spool.list_segments(tmp_path)
    sealed = [s for s in segments if s.sealed]
    active = [s for s in segments if not s.sealed]
    assert len(sealed) >= 3 and len(active) == 1
    writer.close()
    segments = spool.list_segments(tmp_path)
    assert all(s.sealed for s in segments)
    keys = []
    for info in segments:  # oldest first
        with SpoolReader(info.path) as reader:
            got = reader.read_all()
        assert len(got) == info.frames
        keys += [f.key for f in got]
    assert keys == [b"key%02d" % i for i in range(30)]
    assert spool.spool_usage(tmp_path) == (sum(s.path.stat().st_size for s in segments), 30)


def test_active_segment_is_locked_and_not_replayable(tmp_path: Path) -> None:
    writer = SpoolWriter(tmp_path)
    writer.append([("t", b"k", b"v")])
    (info,) = spool.list_segments(tmp_path)
    assert not info.sealed
    assert not spool.replayable(info)  # ours, and our writer is alive
    assert Claim.take(info) is None  # held by the writer's flock
    writer.seal()
    (sealed,) = spool.list_segments(tmp_path)
    claim = Claim.take(sealed)
    assert claim is not None
    assert Claim.take(sealed) is None  # one replayer per segment
    claim.release()


def test_orphan_of_a_dead_writer_is_picked_up(tmp_path: Path) -> None:
    # A child process writes and dies without sealing (SIGKILL, power cut on a worker).
    code = (
        "import os, sys; from pathlib import Path; from edge.sink.spool import SpoolWriter;"
        "w = SpoolWriter(Path(sys.argv[1])); w.append([('t', b'k1', b'v1'), ('t', b'k2', b'v2')]);"
        "w.sync(); os._exit(0)"
    )
    subprocess.run([sys.executable, "-c", code, str(tmp_path)], check=True)
    (info,) = spool.list_segments(tmp_path)
    assert not info.sealed and info.pid != os.getpid()
    assert spool.replayable(info)
    claim = Claim.take(info)
    assert claim is not None
    with SpoolReader(info.path) as reader:
        assert [f.key for f in reader.read_all()] == [b"k1", b"k2"]
    claim.finish()
    assert spool.list_segments(tmp_path) == []


def test_active_segment_of_a_live_writer_is_not_claimed(tmp_path: Path) -> None:
    path = tmp_path / f"{1:020d}-{os.getppid()}-000001.active"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        (info,) = spool.list_segments(tmp_path)
        assert Claim.take(info) is None
    finally:
        os.close(fd)


def test_progress_survives_and_bad_progress_restarts_from_zero(tmp_path: Path) -> None:
    writer = SpoolWriter(tmp_path)
    writer.append([("t", b"k", b"v")])
    writer.close()
    (info,) = spool.list_segments(tmp_path)
    claim = Claim.take(info)
    assert claim is not None
    assert claim.progress() == (0, 0)
    claim.save_progress(123, 4, fsync=True)
    assert claim.progress() == (123, 4)
    assert spool.spool_usage(tmp_path)[1] == 0  # 1 frame, 4 "done": never negative
    raw = bytearray(claim.progress_path.read_bytes())
    raw[0] ^= 1
    claim.progress_path.write_bytes(bytes(raw))
    assert claim.progress() == (0, 0)  # resend rather than skip
    claim.release()


def test_stale_progress_is_removed(tmp_path: Path) -> None:
    (tmp_path / "00000000000000000001-1-000001-3.seg.done").write_bytes(b"x")
    spool.remove_stale_progress(tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_failed_write_leaves_no_torn_frame(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    writer = SpoolWriter(tmp_path)
    writer.append([("t", b"ok", b"v")])
    real_write = os.write
    calls = {"n": 0}

    def half_then_full(fd: int, data) -> int:
        calls["n"] += 1
        if calls["n"] == 1:
            return real_write(fd, bytes(data[:5]))
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(spool.os, "write", half_then_full)
    with pytest.raises(OSError):
        writer.append([("t", b"lost", b"v")])
    monkeypatch.undo()
    writer.append([("t", b"after", b"v")])
    writer.close()
    (info,) = spool.list_segments(tmp_path)
    got, reader = _read(info.path)
    assert [f.key for f in got] == [b"ok", b"after"]
    assert reader.skipped_bytes == 0


def test_segment_names_carry_the_cluster_tag(tmp_path: Path) -> None:
    tag = spool.cluster_tag("k1:9092,k2:9092")
    assert tag == spool.cluster_tag(" K2:9092 , k1:9092") != spool.cluster_tag("k3:9092")
    writer = SpoolWriter(tmp_path, tag=tag)
    writer.append([("t", b"k", b"v")])
    (active,) = spool.list_segments(tmp_path)
    assert (active.tag, active.sealed, active.pid) == (tag, False, os.getpid())
    writer.close()
    (sealed,) = spool.list_segments(tmp_path)
    assert (sealed.tag, sealed.sealed, sealed.frames) == (tag, True, 1)
    assert spool.replayable(sealed, tag=tag) and spool.replayable(sealed)
    assert not spool.replayable(sealed, tag=spool.cluster_tag("k3:9092"))
    # Names from before tags (or handed over by an operator) are anyone's.
    legacy = spool.parse_name(tmp_path / "00000000000000000001-1-000001-5.seg")
    assert legacy is not None and legacy.tag == "" and legacy.frames == 5
    assert spool.replayable(legacy, tag=tag)
    assert spool.parse_name(tmp_path / "00000000000000000001-1-000001-xyz-5.seg") is None
    with pytest.raises(ValueError):
        SpoolWriter(tmp_path, tag="../x")


def _sealed(directory: Path, tag: str) -> spool.SegmentInfo:
    writer = SpoolWriter(directory, tag=tag)
    writer.append([("t", b"k", b"v")])
    writer.close()
    (info,) = [i for i in spool.list_segments(directory) if i.tag == tag]
    return info


def test_a_named_cluster_replays_its_segments_whatever_its_bootstrap(tmp_path: Path) -> None:
    # `turnout dev` gets a new tansu port each run; its cluster name stays.
    first = spool.ClusterTags.of("127.0.0.1:40001", "turnout-dev-1")
    second = spool.ClusterTags.of("127.0.0.1:40002", " turnout-dev-1 ")
    assert first.own == second.own != spool.cluster_tag("127.0.0.1:40001")
    info = _sealed(tmp_path, first.own)
    assert spool.replayable(info, tag=second)
    assert not spool.replayable(info, tag=spool.ClusterTags.of("127.0.0.1:40001", "other"))
    # A name is not a bootstrap string: the two never mean the same cluster.
    assert spool.named_cluster_tag("k1:9092") != spool.cluster_tag("k1:9092")


def test_segments_tagged_by_bootstrap_before_the_cluster_had_a_name_are_still_its_own(
        tmp_path: Path) -> None:
    legacy = _sealed(tmp_path, spool.cluster_tag("k1:9092,k2:9092"))
    named = spool.ClusterTags.of("k2:9092, k1:9092", "prod")
    assert named.legacy == legacy.tag and spool.replayable(legacy, tag=named)
    # ...but not when the bootstrap differs: that was another cluster's.
    assert not spool.replayable(legacy, tag=spool.ClusterTags.of("k3:9092", "prod"))
    # Unnamed, the tag is the bootstrap's, as before names existed.
    assert spool.ClusterTags.of("k1:9092,k2:9092") == (legacy.tag, "")


@given(st.text(min_size=1, max_size=40).filter(str.strip))
def test_every_cluster_name_gives_a_tag_segment_names_can_carry(name: str) -> None:
    tag = spool.named_cluster_tag(name)
    assert len(tag) == 8 and tag.isalnum()
    info = spool.parse_name(Path(f"00000000000000000001-1-000001-{tag}-3.seg"))
    assert info is not None and info.tag == tag
