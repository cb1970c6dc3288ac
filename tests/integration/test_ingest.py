"""Ingest end to end: real tansu, real chdb, the consumer running in-process."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import clickhouse_connect
import msgspec
import orjson
import pytest
from aiokafka import AIOKafkaConsumer

from tests.integration.ingest_support import (
    click,
    conversion,
    ingesting,
    make_database,
    make_topics,
    produce,
    settings_for,
    unique,
    wait_for,
)
from turnout.events import ENCODER, Event
from turnout.ingest.consumer import TopicConsumer, clickhouse_factory


@pytest.fixture(scope="module")
def database(clickhouse_dsn: str) -> str:
    return make_database(clickhouse_dsn)


@pytest.fixture(scope="module")
def ch(clickhouse_dsn: str, database: str) -> Any:
    client = clickhouse_connect.get_client(dsn=clickhouse_dsn)
    client.database = database
    return client


def scalar(ch: Any, sql: str, **parameters: Any) -> Any:
    return ch.query(sql, parameters=parameters).result_rows[0][0]


def counter(ch: Any, sql: str, **parameters: Any) -> Callable[[], Any]:
    return lambda: scalar(ch, sql, **parameters)


def rollups(ch: Any, ws: str, column: str = "clicks") -> tuple[Any, Any]:
    """sum(column) of the workspace in both click rollups (clicks_geo, clicks_wide)."""
    return tuple(  # type: ignore[return-value]
        scalar(ch, f"SELECT sum({column}) FROM {table} WHERE workspace_id = {{w:String}}", w=ws)
        for table in ("clicks_geo", "clicks_wide")
    )


async def read_topic(bootstrap: str, topic: str, expected: int, timeout: float = 20) -> list[Any]:
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, group_id=unique("reader"),
        auto_offset_reset="earliest", enable_auto_commit=False,
    )
    await consumer.start()
    found: list[Any] = []
    try:
        deadline = time.monotonic() + timeout
        while len(found) < expected and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=300)
            for records in batch.values():
                found.extend(records)
        # Anything beyond `expected` would be a defect too: give it a moment to show up.
        batch = await consumer.getmany(timeout_ms=500)
        for records in batch.values():
            found.extend(records)
    finally:
        await consumer.stop()
    return found


async def test_clicks_are_stored_exactly_once_with_duplicates(
    kafka_bootstrap: str, clickhouse_dsn: str, database: str, ch: Any
) -> None:
    topics = await make_topics(kafka_bootstrap)
    settings = settings_for(database, topics)
    ws = unique("ws")
    clicks = [click(ws, cost_micros=1500) for _ in range(1200)]
    # Every 10th click is sent again later (an edge spool replay): a new offset, same id.
    replays = clicks[::10]
    await produce(kafka_bootstrap, topics["clicks"], clicks + replays)
    async with ingesting(
        kafka_bootstrap, clickhouse_factory(clickhouse_dsn), settings, ("clicks",)
    ) as running:
        raw = counter(ch, "SELECT count() FROM clicks WHERE workspace_id = {w:String}", w=ws)
        await wait_for(raw, 1200, running=running)
        # Replays arriving in a later batch as well.
        await produce(kafka_bootstrap, topics["clicks"], replays)
        time.sleep(1.0)
    assert scalar(ch, "SELECT count() FROM clicks WHERE workspace_id = {w:String}", w=ws) == 1200
    assert rollups(ch, ws) == (1200, 1200)
    assert rollups(ch, ws, "cost_micros") == (1200 * 1500, 1200 * 1500)


def revenue_of(ch: Any, ws: str) -> Any:
    return scalar(
        ch, "SELECT sum(revenue_micros) FROM conversions_latest WHERE workspace_id = {w:String}",
        w=ws,
    )


async def test_conversions_attribution_status_changes_and_windows(
    kafka_bootstrap: str, clickhouse_dsn: str, database: str, ch: Any
) -> None:
    topics = await make_topics(kafka_bootstrap)
    settings = settings_for(database, topics, attribution_grace_s=6.0)
    ws = unique("ws")
    now = int(time.time() * 1000)
    a = click(ws, "c1", subs=["s1", *[""] * 9], country="DE", offer_id="o1")
    b = click(ws, "c1")
    late = click(ws, "c2")  # its conversion arrives before it
    old = click(ws, "c1", ts_ms=now - 40 * 86_400_000)  # default window: 30 days
    missing = click(ws, "c1")  # never produced
    await produce(kafka_bootstrap, topics["clicks"], [a, b, old])
    conversions = [
        conversion(click_id=a.click_id, txid="t1", payout_micros=10_000_000, ts_ms=now),
        # A network retry of the same postback: counted once.
        conversion(click_id=a.click_id, txid="t1", payout_micros=10_000_000, ts_ms=now + 5),
        conversion(click_id=b.click_id, txid="t2", payout_micros=20_000_000, ts_ms=now),
        conversion(click_id=b.click_id, txid="t2", payout_micros=20_000_000, ts_ms=now + 9,
                   status="chargeback"),
        conversion(click_id=late.click_id, txid="t3", payout_micros=30_000_000, ts_ms=now),
        conversion(click_id=old.click_id, txid="t4", payout_micros=40_000_000, ts_ms=now),
        conversion(click_id=missing.click_id, txid="t5", payout_micros=50_000_000, ts_ms=now,
                   workspace_id=ws),
    ]
    # The edge names the workspace of every conversion (the network's); ingest requires it.
    conversions = [msgspec.structs.replace(c, workspace_id=ws) for c in conversions]
    await produce(kafka_bootstrap, topics["conversions"], conversions)
    async with ingesting(
        kafka_bootstrap, clickhouse_factory(clickhouse_dsn), settings, ("clicks", "conversions")
    ) as running:
        rows = counter(ch, "SELECT count() FROM conversions_latest WHERE workspace_id = {w:String}",
                       w=ws)
        await wait_for(rows, 3, running=running)  # a, b, old now; late waits for its click
        await produce(kafka_bootstrap, topics["clicks"], [late])
        await wait_for(rows, 5, timeout=20, running=running)  # late attributed, missing flagged
    latest = ch.query(
        "SELECT txid, status, attributed, in_window, campaign_id, country, sub1, offer_id, "
        "revenue_micros FROM conversions_latest WHERE workspace_id = {w:String} ORDER BY txid",
        parameters={"w": ws},
    ).result_rows
    assert latest == [
        ("t1", "approved", True, True, "c1", "DE", "s1", "o1", 10_000_000),
        ("t2", "chargeback", True, True, "c1", "US", "", "", 0),
        ("t3", "approved", True, True, "c2", "US", "", "", 30_000_000),
        ("t4", "approved", True, False, "c1", "US", "", "", 0),
        ("t5", "approved", False, False, "", "", "", "", 0),
    ]
    assert revenue_of(ch, ws) == 40_000_000


async def test_visitor_conversions_go_last_touch_and_keep_their_click(
    kafka_bootstrap: str, clickhouse_dsn: str, database: str, ch: Any
) -> None:
    topics = await make_topics(kafka_bootstrap)
    settings = settings_for(database, topics)
    ws = unique("ws")
    now = int(time.time() * 1000)
    hour = 3_600_000
    first = click(ws, "c1", visitor_id="V", ts_ms=now - 3 * hour)
    second = click(ws, "c2", visitor_id="V", ts_ms=now - 2 * hour)
    bot = click(ws, "c2", visitor_id="V", ts_ms=now - hour, is_bot=True)
    w_old = click(ws, "c1", visitor_id="W", ts_ms=now - 3 * hour)
    await produce(kafka_bootstrap, topics["clicks"], [first, second, bot, w_old])
    await produce(kafka_bootstrap, topics["conversions"], [
        conversion(visitor_id="V", workspace_id=ws, txid="any", payout_micros=1, ts_ms=now),
        conversion(visitor_id="V", workspace_id=ws, campaign_id="c1", txid="in-c1",
                   payout_micros=2, ts_ms=now),
        conversion(visitor_id="W", workspace_id=ws, txid="x", payout_micros=5, ts_ms=now - hour),
    ])
    async with ingesting(
        kafka_bootstrap, clickhouse_factory(clickhouse_dsn), settings, ("clicks", "conversions")
    ) as running:
        rows = counter(ch, "SELECT count() FROM conversions_latest WHERE workspace_id = {w:String}",
                       w=ws)
        await wait_for(rows, 3, running=running)
        # W clicks again, then the network charges back txid x: the chargeback must replace
        # the approval on the click it was attributed to, not land on the newer click.
        newer = click(ws, "c2", visitor_id="W", ts_ms=now - 1000)
        await produce(kafka_bootstrap, topics["clicks"], [newer])
        await wait_for(counter(ch, "SELECT count() FROM clicks WHERE click_id = {c:String}",
                               c=newer.click_id), 1, running=running)
        await produce(kafka_bootstrap, topics["conversions"], [
            conversion(visitor_id="W", workspace_id=ws, txid="x", status="chargeback",
                       payout_micros=5, ts_ms=now),
        ])
        status = counter(ch, "SELECT any(status) FROM conversions_latest WHERE txid = 'x' "
                         "AND workspace_id = {w:String}", w=ws)
        await wait_for(status, "chargeback", running=running)
    latest = ch.query(
        "SELECT txid, click_id, status, attribution FROM conversions_latest "
        "WHERE workspace_id = {w:String} ORDER BY txid", parameters={"w": ws},
    ).result_rows
    assert latest == [
        ("any", second.click_id, "approved", "visitor"),
        ("in-c1", first.click_id, "approved", "visitor"),
        ("x", w_old.click_id, "chargeback", "visitor"),
    ]


async def test_invalid_messages_go_to_the_dlq_with_reasons_and_the_rest_flows(
    kafka_bootstrap: str, clickhouse_dsn: str, database: str, ch: Any
) -> None:
    topics = await make_topics(kafka_bootstrap, partitions=1)
    settings = settings_for(database, topics)
    ws = unique("ws")
    good = [click(ws) for _ in range(50)]
    bad_id = click(ws)
    bad_id.click_id = "not-a-click-id"
    huge_asn = click(ws)
    huge_asn.asn = 1 << 40  # would break the UInt32 column for the whole batch
    raw = [
        *good[:25],
        b"{not json",
        b'{"v": 2, "click_id": "x"}',
        ENCODER.encode(bad_id),
        ENCODER.encode(huge_asn),
        b"\xff\xfe binary",
        *good[25:],
    ]
    await produce(kafka_bootstrap, topics["clicks"], raw)
    async with ingesting(
        kafka_bootstrap, clickhouse_factory(clickhouse_dsn), settings, ("clicks",)
    ) as running:
        count = counter(ch, "SELECT count() FROM clicks WHERE workspace_id = {w:String}", w=ws)
        await wait_for(count, 50, running=running)
        letters = await read_topic(kafka_bootstrap, topics["dlq"], 5)
    decoded = sorted((orjson.loads(r.value) for r in letters), key=lambda d: d["offset"])
    assert [d["offset"] for d in decoded] == [25, 26, 27, 28, 29]
    assert all(d["topic"] == topics["clicks"] and d["partition"] == 0 for d in decoded)
    reasons = [d["reason"] for d in decoded]
    assert reasons[0].startswith("malformed JSON")
    assert reasons[1] == "unsupported schema version 2"
    assert reasons[2].startswith("click_id:")
    assert reasons[3] == f"asn: {1 << 40} is out of range"
    assert reasons[4].startswith("malformed JSON")
    assert decoded[0]["value"] == "{not json"
    assert decoded[4]["value_base64"] == "//4gYmluYXJ5"


async def _group_offsets(bootstrap: str, group: str, topic: str) -> dict[int, int]:
    """Committed offsets of `group` (a fetch only: the reader joins no group)."""
    from aiokafka import TopicPartition

    reader = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group,
                              enable_auto_commit=False)
    await reader.start()
    try:
        found = {}
        for partition in range(3):
            offset = await reader.committed(TopicPartition(topic, partition))
            if offset is not None and offset >= 0:
                found[partition] = offset
        return found
    finally:
        await reader.stop()


async def test_clickhouse_outage_pauses_without_commit_then_catches_up(
    kafka_bootstrap: str, clickhouse_dsn: str, database: str, ch: Any
) -> None:
    topics = await make_topics(kafka_bootstrap)
    settings = settings_for(database, topics)
    ws = unique("ws")
    group = f"{settings.group_id}.{topics['clicks']}"
    ch.command(f"RENAME TABLE {database}.clicks TO {database}.clicks_away")
    renamed = True
    try:
        await produce(kafka_bootstrap, topics["clicks"], [click(ws) for _ in range(700)])
        async with ingesting(
            kafka_bootstrap, clickhouse_factory(clickhouse_dsn), settings, ("clicks",)
        ) as running:
            await asyncio.sleep(3)
            assert not running.task.done()
            assert await _group_offsets(kafka_bootstrap, group, topics['clicks']) == {}
            ch.command(f"RENAME TABLE {database}.clicks_away TO {database}.clicks")
            renamed = False
            count = counter(ch, "SELECT count() FROM clicks WHERE workspace_id = {w:String}", w=ws)
            await wait_for(count, 700, running=running)
            await produce(kafka_bootstrap, topics["clicks"], [click(ws) for _ in range(300)])
            await wait_for(count, 1000, running=running)
            offsets: dict[int, int] = {}
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                offsets = await _group_offsets(kafka_bootstrap, group, topics['clicks'])
                if sum(offsets.values()) == 1000:
                    break
                await asyncio.sleep(0.2)
            assert sum(offsets.values()) == 1000
    finally:
        if renamed:
            ch.command(f"RENAME TABLE {database}.clicks_away TO {database}.clicks")
    assert rollups(ch, ws) == (1000, 1000)


async def test_a_consumer_killed_between_insert_and_commit_loses_and_duplicates_nothing(
    kafka_bootstrap: str, clickhouse_dsn: str, database: str, ch: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    topics = await make_topics(kafka_bootstrap)
    settings = settings_for(database, topics, batch_size=200)
    ws = unique("ws")
    await produce(kafka_bootstrap, topics["clicks"], [click(ws) for _ in range(1000)])
    original = TopicConsumer.commit
    commits = 0
    stuck = asyncio.Event()

    async def commit_then_die(self: TopicConsumer, offsets: dict[Any, int]) -> None:
        nonlocal commits
        commits += 1
        if commits < 3:
            await original(self, offsets)
            return
        stuck.set()  # the batch is inserted; the process "dies" before committing
        await asyncio.Event().wait()

    monkeypatch.setattr(TopicConsumer, "commit", commit_then_die)
    async with ingesting(
        kafka_bootstrap, clickhouse_factory(clickhouse_dsn), settings, ("clicks",)
    ) as running:
        await asyncio.wait_for(stuck.wait(), 30)
        running.task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await running.task
    stored = scalar(ch, "SELECT count() FROM clicks WHERE workspace_id = {w:String}", w=ws)
    committed = await _group_offsets(
        kafka_bootstrap, f"{settings.group_id}.{topics['clicks']}", topics["clicks"]
    )
    # The killed batch was stored but its offsets were not committed: a real replay follows.
    assert 0 < sum(committed.values()) < stored
    monkeypatch.setattr(TopicConsumer, "commit", original)
    await produce(kafka_bootstrap, topics["clicks"], [click(ws) for _ in range(500)])
    async with ingesting(
        kafka_bootstrap, clickhouse_factory(clickhouse_dsn), settings, ("clicks",)
    ) as running:
        count = counter(ch, "SELECT count() FROM clicks WHERE workspace_id = {w:String}", w=ws)
        await wait_for(count, 1500, running=running)
        await asyncio.sleep(1)
    assert scalar(ch, "SELECT count() FROM clicks WHERE workspace_id = {w:String}", w=ws) == 1500
    assert scalar(ch, "SELECT count() FROM clicks FINAL WHERE workspace_id = {w:String}",
                  w=ws) == 1500
    assert rollups(ch, ws) == (1500, 1500)


async def _wait_committed(bootstrap: str, group: str, topic: str, total: int) -> None:
    deadline = time.monotonic() + 30
    offsets: dict[int, int] = {}
    while time.monotonic() < deadline:
        offsets = await _group_offsets(bootstrap, group, topic)
        if sum(offsets.values()) == total:
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"committed {offsets}, expected {total} in all")


async def test_replays_past_memory_and_after_a_restart_are_looked_up(
    kafka_bootstrap: str, clickhouse_dsn: str, database: str, ch: Any
) -> None:
    topics = await make_topics(kafka_bootstrap)
    # Memory keeps about one minute of these clicks: most replays must be asked of chdb.
    settings = settings_for(database, topics, click_memory=50)
    group = f"{settings.group_id}.{topics['clicks']}"
    ws = unique("ws")
    now = int(time.time() * 1000)
    clicks = [click(ws, ts_ms=now - (9 - i // 40) * 60_000 + i) for i in range(400)]
    await produce(kafka_bootstrap, topics["clicks"], clicks)
    raw = counter(ch, "SELECT count() FROM clicks WHERE workspace_id = {w:String}", w=ws)
    async with ingesting(
        kafka_bootstrap, clickhouse_factory(clickhouse_dsn), settings, ("clicks",)
    ) as running:
        await wait_for(raw, 400, running=running)
        await produce(kafka_bootstrap, topics["clicks"], clicks[::3])  # 134 replays
        await _wait_committed(kafka_bootstrap, group, topics["clicks"], 534)
    assert raw() == 400
    # A restarted consumer remembers nothing: replays of every click, and new ones.
    later = [click(ws) for _ in range(50)]
    await produce(kafka_bootstrap, topics["clicks"], [*clicks, *later])
    async with ingesting(
        kafka_bootstrap, clickhouse_factory(clickhouse_dsn), settings, ("clicks",)
    ) as running:
        await wait_for(raw, 450, running=running)
        await _wait_committed(kafka_bootstrap, group, topics["clicks"], 984)
    assert raw() == 450
    assert scalar(ch, "SELECT count() FROM clicks FINAL WHERE workspace_id = {w:String}",
                  w=ws) == 450
    assert rollups(ch, ws) == (450, 450)


async def test_every_field_of_clicks_and_events_is_stored_as_sent(
    kafka_bootstrap: str, clickhouse_dsn: str, database: str, ch: Any
) -> None:
    # The pipelines insert Native bodies built on the event loop (Store.encode); every
    # column must hold what the message said, across batches and partitions.
    topics = await make_topics(kafka_bootstrap)
    settings = settings_for(database, topics, batch_size=300)
    ws = unique("ws")
    clicks = [
        click(ws, subs=[f"s{i}", "", f"t{i % 3}", "", "", "", "", "", "", f"z{i}"][: i % 11],
              params={"k": str(i)} if i % 2 else {}, asn=i, is_bot=i % 5 == 0,
              cost_micros=-i if i % 7 == 0 else i, user_agent=f"ua é {i}")
        for i in range(700)
    ]
    events = [
        Event(event_id=f"e{i}", name=("signup", "view")[i % 2], visitor_id=f"v{i}",
              click_id=clicks[i].click_id if i % 3 else "", workspace_id=ws,
              value_micros=i * 1000, ts_ms=clicks[i].ts_ms, params={"p": str(i)} if i else {})
        for i in range(400)
    ]
    await produce(kafka_bootstrap, topics["clicks"], clicks)
    await produce(kafka_bootstrap, topics["events"], [*events, b'{"v": 1, "name": "x"}'])
    async with ingesting(
        kafka_bootstrap, clickhouse_factory(clickhouse_dsn), settings, ("clicks", "events")
    ) as running:
        await wait_for(counter(ch, "SELECT count() FROM clicks WHERE workspace_id = {w:String}",
                               w=ws), 700, running=running)
        await wait_for(counter(ch, "SELECT count() FROM events WHERE workspace_id = {w:String}",
                               w=ws), 400, running=running)
        letters = await read_topic(kafka_bootstrap, topics["dlq"], 1)
    rows = ch.query(
        "SELECT click_id, asn, is_bot, cost_micros, user_agent, params, "
        "[sub1, sub2, sub3, sub4, sub5, sub6, sub7, sub8, sub9, sub10], "
        "toUnixTimestamp64Milli(ts) FROM clicks WHERE workspace_id = {w:String}",
        parameters={"w": ws},
    ).result_rows
    stored = {row[0]: row[1:] for row in rows}
    for c in clicks:
        assert stored[c.click_id] == (
            c.asn, c.is_bot, c.cost_micros, c.user_agent, c.params,
            [*c.subs, *[""] * (10 - len(c.subs))], c.ts_ms,
        )
    rows = ch.query(
        "SELECT event_id, name, visitor_id, click_id, value_micros, params, "
        "toUnixTimestamp64Milli(ts) FROM events WHERE workspace_id = {w:String}",
        parameters={"w": ws},
    ).result_rows
    assert sorted(rows) == sorted(
        (e.event_id, e.name, e.visitor_id, e.click_id, e.value_micros, e.params, e.ts_ms)
        for e in events
    )
    assert [orjson.loads(r.value)["reason"] for r in letters] == [
        "schema: Object missing required field `event_id`"
    ]
