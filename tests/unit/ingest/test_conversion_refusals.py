"""Attribution refuses a conversion outside its click's workspace or network: the message
goes to the DLQ with its reason, is counted, and its offset is committed like any other."""

from __future__ import annotations

import msgspec
import orjson

from tests.unit.ingest.test_pipelines import (
    IDS,
    TOPIC,
    Recorder,
    a_conversion,
    batch_of,
    column,
    make,
    stored_click,
)
from turnout.events import ENCODER


async def test_refused_conversions_are_dead_letters_with_reasons_and_counted() -> None:
    recorder = Recorder()
    pipeline = make("conversions", recorder)
    mine, theirs = IDS.new(), IDS.new()
    recorder.clicks[mine] = stored_click(mine)  # workspace "w"
    click = stored_click(theirs)
    recorder.clicks[theirs] = type(click)(
        theirs, click.ts_ms, "click", "v", 0, {**click.dimensions, "network_id": "alpha"})
    good = msgspec.structs.replace(a_conversion(0, mine), network_id="beta")
    cross = msgspec.structs.replace(a_conversion(1, mine), workspace_id="elsewhere")
    foreign = msgspec.structs.replace(a_conversion(2, theirs), network_id="beta")
    allowed = msgspec.structs.replace(foreign, conversion_id=IDS.new(), any_offer=True)
    batch, span = batch_of([ENCODER.encode(c) for c in (good, cross, foreign, allowed)])
    assert await pipeline.write(pipeline.prepare(batch, span)) == {(TOPIC, 0): 4}
    [(_insert, (_table, columns), _token), *letters] = recorder.log
    assert column("conversions", columns, "conversion_id") == [
        good.conversion_id, allowed.conversion_id]
    reasons = {orjson.loads(value)["offset"]: orjson.loads(value)["reason"]
               for _what, value, _topic in letters}
    assert {offset: reason.split(":")[0] for offset, reason in reasons.items()} == {
        1: "cross_workspace", 2: "foreign_network"}
    assert "'elsewhere'" in reasons[1] and "'alpha'" in reasons[2]
    assert pipeline.refused == {"cross_workspace": 1, "foreign_network": 1}


async def test_a_held_conversion_refused_later_still_reaches_the_dlq() -> None:
    recorder = Recorder()
    pipeline = make("conversions", recorder, attribution_grace_s=60.0)
    later = IDS.new()
    cross = msgspec.structs.replace(a_conversion(0, later), workspace_id="elsewhere")
    batch, span = batch_of([ENCODER.encode(cross)], first=3)
    assert await pipeline.write(pipeline.prepare(batch, span)) == {(TOPIC, 0): 3}
    recorder.clicks[later] = stored_click(later)
    assert await pipeline.write(pipeline.prepare([], span.__class__())) == {(TOPIC, 0): 4}
    [(what, value, _topic)] = recorder.log
    assert what == "dlq" and orjson.loads(value)["offset"] == 3
    assert not pipeline.has_pending()
