"""The replayer: resuming a segment from its saved progress, counting what it replayed."""

from __future__ import annotations

from pathlib import Path

from tests.unit.edge_sink.support import ScriptedProducer, settings_for, until
from turnout.edge.sink import EventSink
from turnout.edge.sink import spool as spool_mod
from turnout.events import TOPIC_CLICKS


async def test_a_replay_resumes_after_the_frames_already_acked(tmp_path: Path) -> None:
    writer = spool_mod.SpoolWriter(tmp_path)
    writer.append([(TOPIC_CLICKS, f"r{i}".encode(), b"{}") for i in range(30)])
    writer.close()
    (info,) = spool_mod.list_segments(tmp_path)
    with spool_mod.SpoolReader(info.path) as reader:
        offset = reader.read(10)[-1][0]
    claim = spool_mod.Claim.take(info)
    assert claim is not None
    claim.save_progress(offset, 10, fsync=False)  # a replay that stopped after 10 frames
    claim.release()
    producer = ScriptedProducer(lambda key: False)
    sink = EventSink(settings_for(tmp_path, batch_size=7), lambda _: producer)
    await sink.start()
    assert sink.stats.spool_events_pending == 20
    await until(lambda: not spool_mod.list_segments(tmp_path))
    await sink.close()
    assert sorted(producer.acked) == sorted(f"r{i}".encode() for i in range(10, 30))
    stats = sink.stats
    assert stats.replayed_total == 20 and stats.sent_total == {TOPIC_CLICKS: 20}
    assert stats.spool_events_pending == 0
    assert not list(tmp_path.glob("*.done"))
