"""EventSink without a broker: overflow, outage, shutdown and ack accounting.

Most tests point the sink at a port nobody listens on (a real "Kafka down"). The ack
accounting tests need a broker that acks some records of a batch and fails others,
which a real broker does not do on demand: they use a scripted producer, and the same
paths are exercised against tansu in tests/integration/test_event_sink.py.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from tests.unit.edge_sink.support import ScriptedProducer, settings_for, spooled_keys, until
from turnout.edge.sink import EventSink, SinkSettings
from turnout.edge.sink import spool as spool_mod
from turnout.edge.sink.partition import partitions_of
from turnout.env import SettingError
from turnout.events import TOPIC_CLICKS, TOPIC_EVENTS, Event


def _event(key: str) -> Event:
    return Event(event_id=key, name="view", ts_ms=1)


async def test_a_full_buffer_overflows_to_the_spool(tmp_path: Path) -> None:
    sink = EventSink(settings_for(tmp_path, buffer_size=10))
    for i in range(25):
        sink.emit(TOPIC_EVENTS, f"k{i}", _event(f"k{i}"))
    assert sink.stats.buffer_depth == 10
    assert sink.stats.spooled_total == 15
    # On disk at once (the open segment), before any background task ran.
    assert sorted(spooled_keys(tmp_path)) == sorted(f"k{i}" for i in range(10, 25))
    await sink.close()
    assert sorted(spooled_keys(tmp_path)) == sorted(f"k{i}" for i in range(25))


async def test_broker_down_at_start_spools_everything(tmp_path: Path) -> None:
    sink = EventSink(settings_for(tmp_path))
    await sink.start()
    for i in range(100):
        sink.emit(TOPIC_EVENTS, f"k{i}", _event(f"k{i}"))
    await until(lambda: sink.stats.spooled_total == 100 and sink.stats.buffer_depth == 0)
    assert not sink.stats.broker_up
    assert "Error" in sink.stats.last_error
    await sink.close(timeout=2.0)
    assert sorted(spooled_keys(tmp_path)) == sorted(f"k{i}" for i in range(100))


async def test_emit_after_close_still_lands_in_the_spool(tmp_path: Path) -> None:
    sink = EventSink(settings_for(tmp_path))
    await sink.start()
    await sink.close(timeout=1.0)
    sink.emit(TOPIC_EVENTS, "late", _event("late"))
    segments = spool_mod.list_segments(tmp_path)
    assert [info.sealed for info in segments] == [True]
    assert spooled_keys(tmp_path) == ["late"]


async def test_a_full_spool_drops_loudly(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    sink = EventSink(settings_for(tmp_path, buffer_size=1, max_spool_bytes=0))
    with caplog.at_level(logging.ERROR, logger="turnout.edge.sink"):
        for i in range(3):
            sink.emit(TOPIC_EVENTS, f"k{i}", _event(f"k{i}"))
    assert sink.stats.dropped_total == 2
    assert "spool is full" in sink.stats.last_error
    assert "EVENTS DROPPED" in caplog.text
    assert "turnout_sink_dropped_total 2" in sink.stats.prometheus()
    await sink.close(timeout=1.0)


async def test_only_unacked_batches_are_spooled(tmp_path: Path) -> None:
    failing = b"k7"  # fails its partition's batch the first time; the others are acked
    producer = ScriptedProducer(lambda key: False, batch_limit=10)
    sink = EventSink(settings_for(tmp_path, batch_size=50), lambda _: producer)
    await sink.start()
    await until(lambda: sink.stats.broker_up)
    producer.fail = lambda key: key == failing and not sink.stats.spooled_total
    for i in range(50):
        sink.emit(TOPIC_CLICKS, f"k{i}", _event(f"k{i}"))
    await until(lambda: sink.stats.spooled_total > 0)
    await until(lambda: sink.stats.spool_events_pending == 0 and sink.stats.broker_up)
    await sink.close()
    stats = sink.stats
    (failed,) = [keys for _, _, keys in producer.batches if failing in keys][:1]
    assert stats.spooled_total == len(failed) == stats.replayed_total
    assert stats.sent_total[TOPIC_CLICKS] == 50
    assert sorted(producer.acked) == sorted(f"k{i}".encode() for i in range(50))  # once each
    # One partition per key, as the Java client's murmur2 partitioner, in batches of <= 10.
    for _, partition, keys in producer.batches:
        assert partitions_of(keys, 3) == [partition] * len(keys)
        assert len(keys) <= 10
    assert spool_mod.list_segments(tmp_path) == []


async def test_replay_respools_failures_and_never_resends_acked(tmp_path: Path) -> None:
    writer = spool_mod.SpoolWriter(tmp_path)
    writer.append([(TOPIC_CLICKS, f"r{i}".encode(), b"{}") for i in range(30)])
    writer.close()
    rounds = {"n": 0}

    def fail(key: bytes) -> bool:
        # The first replay attempt fails every third record; later ones succeed.
        return rounds["n"] == 0 and int(key[1:]) % 3 == 0

    producer = ScriptedProducer(fail)
    sink = EventSink(settings_for(tmp_path, batch_size=10), lambda _: producer)
    await sink.start()
    await until(lambda: sink.stats.send_errors_total >= 1)
    rounds["n"] = 1
    await until(lambda: sink.stats.replayed_total == 30, timeout=15)
    await sink.close()
    assert sorted(producer.acked) == sorted(f"r{i}".encode() for i in range(30))
    assert spool_mod.list_segments(tmp_path) == []
    assert not list(tmp_path.glob("*.done"))


def test_settings_from_env(tmp_path: Path) -> None:
    environ = {
        "TURNOUT_DATA_DIR": str(tmp_path), "TURNOUT_KAFKA_BOOTSTRAP": "k:9092",
        "TURNOUT_KAFKA_IDEMPOTENCE": "1", "TURNOUT_SPOOL_FSYNC": "always",
        "TURNOUT_SINK_BATCH_SIZE": "500", "TURNOUT_KAFKA_COMPRESSION": "zstd",
    }
    settings = SinkSettings.from_env(environ)
    assert settings.kafka_bootstrap == "k:9092"
    assert settings.spool_dir == (tmp_path / "spool").resolve()
    assert settings.idempotence and settings.spool_fsync == "always"
    assert settings.batch_size == 500 and settings.compression == "zstd"
    assert SinkSettings.from_env({}).idempotence is False
    with pytest.raises(SettingError):
        SinkSettings.from_env({"TURNOUT_SPOOL_FSYNC": "sometimes"})
    with pytest.raises(SettingError, match="acks"):
        SinkSettings.from_env({"TURNOUT_KAFKA_ACKS": "0"})
    with pytest.raises(SettingError, match="compression"):
        SinkSettings.from_env({"TURNOUT_KAFKA_COMPRESSION": "brotli"})


async def test_a_worker_for_another_cluster_leaves_our_spool_alone(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # An edge whose cluster is down spools and exits, as on SIGTERM during an outage.
    down = EventSink(settings_for(tmp_path))
    await down.start()
    for i in range(20):
        down.emit(TOPIC_CLICKS, f"a{i}", _event(f"a{i}"))
    await down.close(timeout=1.0)
    assert len(spooled_keys(tmp_path)) == 20
    # A live edge sharing the directory but sending to another cluster (an orphan of an
    # earlier run, a misconfigured worker) must not take them: it would deliver them to
    # its cluster and delete the segment, a loss for the cluster they were meant for.
    elsewhere = ScriptedProducer(lambda key: False)
    foreign = EventSink(settings_for(tmp_path), lambda _: elsewhere)
    with caplog.at_level(logging.WARNING, logger="turnout.edge.sink"):
        await foreign.start()
        await until(lambda: elsewhere.acked or "another Kafka cluster" in caplog.text)
    await foreign.close()
    assert elsewhere.acked == []
    assert sorted(spooled_keys(tmp_path)) == sorted(f"a{i}" for i in range(20))
    # The restarted edge of the right cluster replays all of them.
    home = ScriptedProducer(lambda key: False)
    sink = EventSink(settings_for(tmp_path, kafka_bootstrap=down.settings.kafka_bootstrap),
                     lambda _: home)
    await sink.start()
    # Counted as replayed once acked, then deleted after its progress is saved: a close
    # in between leaves a segment whose progress says it is all sent (never sent again).
    await until(lambda: sink.stats.replayed_total == 20
                and spool_mod.list_segments(tmp_path) == [])
    await sink.close()
    assert sorted(home.acked) == sorted(f"a{i}".encode() for i in range(20))
    assert spool_mod.list_segments(tmp_path) == []


async def test_an_unencodable_event_is_dropped_and_counted_the_rest_flow(tmp_path: Path) -> None:
    sink = EventSink(settings_for(tmp_path, buffer_size=10))
    sink.emit(TOPIC_EVENTS, "good-1", _event("good-1"))
    sink.emit(TOPIC_EVENTS, "bad", _event("lone surrogate \ud800"))  # not valid UTF-8
    sink.emit(TOPIC_EVENTS, "bad-key-\ud800", _event("k"))
    sink.emit(TOPIC_EVENTS, "good-2", _event("good-2"))
    stats = sink.stats
    assert stats.buffer_depth == 2
    assert stats.dropped_total == 2
    assert "unencodable event" in stats.last_error
    await sink.close()
    assert sorted(spooled_keys(tmp_path)) == ["good-1", "good-2"]  # broker never started
