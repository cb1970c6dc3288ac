"""ClickPipeline's stored-id decisions, against a store that records what it is asked."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from turnout.clickid import ClickIds
from turnout.events import ENCODER, Click
from turnout.ingest import schema
from turnout.ingest.batch import Span
from turnout.ingest.click_pipeline import ClickPipeline
from turnout.ingest.settings import IngestSettings

IDS = ClickIds(seed=b"pipeline")
CLICK_ID = [name for name, _type in schema.CLICKS].index("click_id")
BATCH = [name for name, _type in schema.CLICKS].index("ingest_batch")


@dataclass
class Message:
    value: bytes
    offset: int
    topic: str = "clicks"
    partition: int = 0
    timestamp: int = 0
    key: bytes | None = None


@dataclass
class FakeStore:
    """Stored rows are click ids with their ts; the floor is the newest stored ts."""

    stored: dict[str, int] = field(default_factory=dict)
    batches: dict[str, str] = field(default_factory=dict)  # click id -> its ingest_batch
    tokens: list[str] = field(default_factory=list)
    floor_reads: list[tuple[set[str], int]] = field(default_factory=list)
    lookups: list[list[str]] = field(default_factory=list)
    inserted: list[list[str]] = field(default_factory=list)

    def latest_click_ts(self, workspaces: Sequence[str], since_ms: int) -> dict[str, int]:
        self.floor_reads.append((set(workspaces), since_ms))
        newest = max((ts for ts in self.stored.values() if ts >= since_ms), default=since_ms - 1)
        return {w: newest for w in workspaces}

    def stored_click_batches(self, clicks: Sequence[Click]) -> dict[str, str]:
        self.lookups.append([c.click_id for c in clicks])
        return {c.click_id: self.batches.get(c.click_id, "another")
                for c in clicks if c.click_id in self.stored}

    def insert(self, table: str, columns: list[list[Any]], token: str) -> None:
        ids = columns[CLICK_ID]
        self.inserted.append(list(ids))
        self.tokens.append(token)
        ts = columns[[name for name, _type in schema.CLICKS].index("ts")]
        self.stored.update(zip(ids, ts, strict=True))
        self.batches.update(zip(ids, columns[BATCH], strict=True))

    def encode(self, table: str, columns: list[list[Any]]) -> Any:
        return columns  # opaque to the pipeline: handed back to insert_encoded as is

    def insert_encoded(self, table: str, body: Any, token: str) -> None:
        self.insert(table, body, token)


def click(ts_ms: int) -> Click:
    return Click(click_id=IDS.new(ts_ms), ts_ms=ts_ms, workspace_id="w", campaign_id="c",
                 campaign_code="C", graph_version=1, rule_id="r", visitor_id="v")


class Harness:
    def __init__(self, store: FakeStore, memory: int = 1000) -> None:
        self.store = store
        settings = IngestSettings(click_memory=memory)
        self.pipeline = ClickPipeline(store, None, settings, asyncio.Event())  # type: ignore[arg-type]
        self.offset = 0

    async def ingest(self, clicks: Sequence[Click]) -> list[str]:
        """Prepare and write one batch; the ids it inserted."""
        batch, span = [], Span()
        for item in clicks:
            batch.append(Message(ENCODER.encode(item), self.offset))
            span.add("clicks", 0, self.offset)
            self.offset += 1
        before = len(self.store.inserted)
        await self.pipeline.write(self.pipeline.prepare(batch, span))
        return [i for ids in self.store.inserted[before:] for i in ids]


async def test_new_clicks_need_one_floor_read_and_no_look_up() -> None:
    store = FakeStore(stored={"OLD": 1_000})
    harness = Harness(store)
    first = [click(10_000_000 + i) for i in range(3)]
    assert await harness.ingest(first) == [c.click_id for c in first]
    assert store.floor_reads == [({"w"}, 10_000_000 - 600_000)] and store.lookups == []
    second = [click(10_000_100 + i) for i in range(3)]
    assert await harness.ingest(second) == [c.click_id for c in second]
    assert len(store.floor_reads) == 1 and store.lookups == []


async def test_a_replay_this_pipeline_stored_is_dropped_without_asking() -> None:
    store = FakeStore()
    harness = Harness(store)
    clicks = [click(10_000_000 + i) for i in range(4)]
    await harness.ingest(clicks)
    fresh = click(10_000_900)
    assert await harness.ingest([clicks[1], fresh, clicks[3]]) == [fresh.click_id]
    assert store.lookups == []


async def test_clicks_not_above_the_floor_are_looked_up_and_stored_ones_dropped() -> None:
    stored_before = click(20_000_000)  # stored by another consumer before this one started
    store = FakeStore(stored={stored_before.click_id: stored_before.ts_ms})
    harness = Harness(store)
    older = click(19_999_000)
    newer = click(20_000_500)
    inserted = await harness.ingest([stored_before, older, newer])
    assert inserted == [older.click_id, newer.click_id]
    # Only the clicks at or below the floor were asked about.
    assert store.lookups == [[stored_before.click_id, older.click_id]]


async def test_a_rebalance_reads_the_floors_again() -> None:
    store = FakeStore()
    harness = Harness(store)
    await harness.ingest([click(30_000_000)])
    harness.pipeline.forget({("clicks", 0)})
    # Meanwhile another consumer stored a newer click of the workspace.
    theirs = click(30_000_200)
    store.stored[theirs.click_id] = theirs.ts_ms
    mine = click(30_000_300)
    assert await harness.ingest([theirs, mine]) == [mine.click_id]
    assert len(store.floor_reads) == 2 and store.lookups == [[theirs.click_id]]


async def test_clicks_older_than_what_memory_holds_are_looked_up() -> None:
    store = FakeStore()
    harness = Harness(store, memory=2)
    minute = 60_000
    early = [click(100 * minute + i) for i in range(2)]
    await harness.ingest(early)
    await harness.ingest([click(105 * minute + i) for i in range(2)])  # forgets minute 100
    assert store.lookups == []
    assert await harness.ingest([early[0]]) == []
    assert store.lookups == [[early[0].click_id]]


async def test_without_the_look_up_nothing_is_asked_or_dropped() -> None:
    store = FakeStore()
    pipeline = ClickPipeline(store, None, IngestSettings(click_lookup=False),  # type: ignore[arg-type]
                             asyncio.Event())
    item = click(40_000_000)
    span = Span()
    span.add("clicks", 0, 0)
    for offset in (0, 1):
        await pipeline.write(pipeline.prepare([Message(ENCODER.encode(item), offset)], span))
    assert store.inserted == [[item.click_id], [item.click_id]]
    assert store.floor_reads == [] and store.lookups == []


async def test_a_restarted_pipeline_replays_its_own_batch_as_the_same_insert() -> None:
    """Killed after the clicks part was written: the replay (same offsets, fresh memory)
    keeps the rows its first attempt stored, so ClickHouse sees the same token."""
    store = FakeStore()
    clicks = [click(50_000_000 + i) for i in range(3)]
    await Harness(store).ingest(clicks)
    assert await Harness(store).ingest(clicks) == [c.click_id for c in clicks]
    assert store.tokens[0] == store.tokens[1]


async def test_a_replay_cut_at_other_offsets_drops_what_the_first_attempt_stored() -> None:
    store = FakeStore()
    clicks = [click(60_000_000 + i) for i in range(3)]
    await Harness(store).ingest(clicks)
    later = Harness(store)
    later.offset = 1  # another batch: its span and ingest_batch differ
    fresh = click(60_000_900)
    assert await later.ingest([*clicks, fresh]) == [fresh.click_id]


async def test_after_an_assignment_the_span_the_first_clicks_were_stored_under_is_found() -> None:
    store = FakeStore()
    clicks = [click(70_000_000 + i) for i in range(3)]
    await Harness(store).ingest(clicks)
    fresh = ClickPipeline(store, None, IngestSettings(), asyncio.Event())  # type: ignore[arg-type]
    later = [click(70_000_900 + i) for i in range(2)]
    refetched = [Message(ENCODER.encode(c), offset) for offset, c in enumerate([*clicks, *later])]
    assert await fresh.replay_span(refetched, {("clicks", 0)}) == {("clicks", 0): (0, 2)}
    assert await fresh.replay_span(refetched[3:], {("clicks", 0)}) is None
