"""The three pipelines in their shared shape, against a store and a producer that record
what they are asked: dead letters found at prepare, one insert per batch with the batch's
dedup token, a failed insert retried unchanged, the DLQ after the insert, then offsets.
The store keeps rows and dedup tokens as ClickHouse does (clicks also in a materialized
view, deduplicated on its own), and fails tries in the ways ClickHouse can: before storing,
after storing everything (the answer lost), after the table's part but before the view's,
and keeping the token without the part (chdb when a part's rename fails)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from turnout.clickid import ClickIds
from turnout.events import ENCODER, Click, Conversion, Event
from turnout.ingest import attribution, schema
from turnout.ingest.attribution import ClickRef
from turnout.ingest.batch import Span, dedup_token
from turnout.ingest.click_pipeline import ClickPipeline
from turnout.ingest.conversion_pipeline import ConversionPipeline
from turnout.ingest.event_pipeline import EventPipeline
from turnout.ingest.pipelines import Pipeline
from turnout.ingest.settings import IngestSettings

IDS = ClickIds(seed=b"pipelines")
NOW_MS = int(time.time() * 1000)
TOPIC = "in"


@dataclass
class Message:
    value: bytes | None
    offset: int
    topic: str = TOPIC
    partition: int = 0
    timestamp: int = 0
    key: bytes | None = None


Failure = Literal["before", "after", "after table", "keeps token"]
FAILURES: tuple[Failure, ...] = get_args(Failure)
KEY_COLUMNS = {"clicks": ("click_id",), "events": ("event_id",),
               "conversions": ("conversion_id", "click_id")}


def row_keys(table: str, columns: list[list[Any]]) -> list[str]:
    """Each row's key as the pipeline of `table` writes it in the dedup token."""
    return ["/".join(parts) for parts in
            zip(*(column(table, columns, name) for name in KEY_COLUMNS[table]), strict=True)]


@dataclass
class Recorder:
    """Store and producer in one: `log` is every insert and DLQ send, in order; `rows` what
    each table holds (key -> the ingest_batch of each time it was stored; a view of clicks
    is "view")."""

    clicks: dict[str, ClickRef] = field(default_factory=dict)
    failures: list[Failure] = field(default_factory=list)  # how the next tries fail
    log: list[tuple[str, Any, str]] = field(default_factory=list)
    rows: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    tokens: set[str] = field(default_factory=set)  # ClickHouse's deduplication logs
    view_tokens: set[str] = field(default_factory=set)

    def encode(self, table: str, columns: list[list[Any]]) -> Any:
        return (table, columns)

    def insert_encoded(self, table: str, body: Any, token: str) -> None:
        self.log.append(("insert", body, token))
        failure = self.failures.pop(0) if self.failures else None
        if failure == "before":
            raise ConnectionError("ClickHouse is away")
        if token not in self.tokens:  # else a duplicate block: nothing stored
            self.tokens.add(token)
            if failure != "keeps token":
                self.store(table, body[1])
        # Each view dedups its block on its own, even when the table's was a duplicate.
        if table == "clicks" and failure in (None, "after") and token not in self.view_tokens:
            self.view_tokens.add(token)
            self.store("view", body[1], table)
        if failure is not None:
            raise OSError("Operation not permitted")

    def store(self, table: str, columns: list[list[Any]], source: str = "") -> None:
        source = source or table
        labels = column(source, columns, "ingest_batch") if source == "clicks" else None
        for i, key in enumerate(row_keys(source, columns)):
            self.rows.setdefault(table, {}).setdefault(key, []).append(
                labels[i] if labels else "")

    def times_stored(self, table: str) -> dict[str, int]:
        return {key: len(labels) for key, labels in self.stored(table).items()}

    def stored(self, table: str) -> dict[str, list[str]]:
        return self.rows.get(table, {})

    def stored_click_batches(self, clicks: Sequence[Click]) -> dict[str, str]:
        held = self.stored("clicks")
        return {c.click_id: held[c.click_id][0] for c in clicks if c.click_id in held}

    def stored_conversions(self, rows: Sequence[dict[str, Any]]) -> set[tuple[str, str]]:
        held = self.stored("conversions")
        return {(r["conversion_id"], r["click_id"]) for r in rows
                if f"{r['conversion_id']}/{r['click_id']}" in held}

    def stored_events(self, events: Sequence[Event]) -> set[str]:
        return {e.event_id for e in events if e.event_id in self.stored("events")}

    def latest_click_ts(self, workspaces: Sequence[str], since_ms: int) -> dict[str, int]:
        return {w: since_ms - 1 for w in workspaces}

    def clicks_by_id(self, ids: Sequence[str]) -> dict[str, ClickRef]:
        return {i: self.clicks[i] for i in ids if i in self.clicks}

    def clicks_by_visitor(self, visitors: Sequence[str], until: int) -> dict[str, Any]:
        return {}

    def prior_visitor_conversions(self, pairs: Sequence[Any]) -> dict[Any, str]:
        return {}

    async def send(self, topic: str, value: bytes | None = None, key: bytes | None = None
                   ) -> asyncio.Future[None]:
        self.log.append(("dlq", value, topic))
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done


def stored_click(click_id: str) -> ClickRef:
    dimensions: dict[str, Any] = {name: "" for name in attribution.DIMENSION_NAMES}
    dimensions.update(is_bot=False, graph_version=1, funnel_step=0, cost_rate_micros=0,
                      workspace_id="w", campaign_id="c")
    return ClickRef(click_id, NOW_MS - 1000, "click", "v", 0, dimensions)


def a_click(i: int) -> Click:
    return Click(click_id=IDS.new(NOW_MS + i), ts_ms=NOW_MS + i, workspace_id="w",
                 campaign_id="c", campaign_code="C", graph_version=1, rule_id="r",
                 visitor_id="v")


def an_event(i: int) -> Event:
    return Event(event_id=f"e{i}", name="signup", ts_ms=NOW_MS + i)


def a_conversion(i: int, click_id: str) -> Conversion:
    return Conversion(conversion_id=IDS.new(NOW_MS + i), click_id=click_id, ts_ms=NOW_MS + i,
                      workspace_id="w")


def column(table: str, columns: list[list[Any]], name: str) -> list[Any]:
    return columns[[n for n, _type in schema.TABLES[table]].index(name)]


def batch_of(items: Sequence[bytes | None], first: int = 0) -> tuple[list[Message], Span]:
    span = Span()
    messages = []
    for offset, value in enumerate(items, first):
        messages.append(Message(value, offset))
        span.add(TOPIC, 0, offset)
    return messages, span


def make(kind: str, recorder: Recorder, **settings: Any) -> Pipeline[Any, Any]:
    cls = {"clicks": ClickPipeline, "events": EventPipeline, "conversions": ConversionPipeline}
    config = IngestSettings(**{"retry_initial_s": 0.01, **settings})
    return cls[kind](recorder, recorder, config, asyncio.Event())  # type: ignore[arg-type]


def valid_items(kind: str, recorder: Recorder) -> tuple[list[Any], list[str]]:
    """Two valid messages of `kind`, and the keys their rows carry in the dedup token."""
    if kind == "clicks":
        clicks = [a_click(0), a_click(1)]
        return clicks, [c.click_id for c in clicks]
    if kind == "events":
        return [an_event(0), an_event(1)], ["e0", "e1"]
    ids = [IDS.new(NOW_MS - 5000), IDS.new(NOW_MS - 4000)]
    recorder.clicks.update({i: stored_click(i) for i in ids})
    conversions = [a_conversion(0, ids[0]), a_conversion(1, ids[1])]
    return conversions, [f"{c.conversion_id}/{c.click_id}" for c in conversions]


KINDS = ("clicks", "events", "conversions")


@pytest.mark.parametrize("kind", KINDS)
async def test_bad_messages_are_dead_letters_from_prepare_and_go_out_after_the_insert(
    kind: str,
) -> None:
    recorder = Recorder()
    pipeline = make(kind, recorder)
    items, keys = valid_items(kind, recorder)
    batch, span = batch_of([ENCODER.encode(items[0]), b"{not json", ENCODER.encode(items[1])])
    prepared = pipeline.prepare(batch, span)
    assert [(d.offset, d.reason.split(":")[0]) for d in prepared.dead] == [(1, "malformed JSON")]
    assert recorder.log == []  # prepare stores nothing
    assert await pipeline.write(prepared) == {(TOPIC, 0): 3}
    [(what, (table, columns), token), (sent, letter, topic)] = recorder.log
    assert (what, table, sent, topic) == ("insert", kind, "dlq", "turnout.dlq")
    assert b'"offset":1' in letter
    assert token == dedup_token(kind, span.ranges, keys)
    id_column = {"clicks": "click_id", "events": "event_id", "conversions": "conversion_id"}
    assert column(kind, columns, id_column[kind]) == [
        getattr(item, id_column[kind]) for item in items
    ]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("how", ["after", "after table"])
async def test_a_failed_insert_is_retried_with_the_same_rows_and_token(kind: str, how: Failure
                                                                      ) -> None:
    recorder = Recorder(failures=[how, how])
    pipeline = make(kind, recorder)
    items, keys = valid_items(kind, recorder)
    batch, span = batch_of([ENCODER.encode(item) for item in items])
    assert await pipeline.write(pipeline.prepare(batch, span)) == {(TOPIC, 0): 2}
    assert [entry[0] for entry in recorder.log] == ["insert"] * 3
    assert len({(repr(body), token) for _what, body, token in recorder.log}) == 1
    assert recorder.times_stored(kind) == dict.fromkeys(keys, 1)
    if kind == "clicks":  # the retry gave the view the part it lacked
        assert recorder.times_stored("view") == dict.fromkeys(keys, 1)


@pytest.mark.parametrize("kind", KINDS)
async def test_a_try_that_stored_nothing_goes_again_under_a_token_of_its_own(kind: str
                                                                           ) -> None:
    recorder = Recorder(failures=["before", "keeps token"])
    pipeline = make(kind, recorder)
    items, keys = valid_items(kind, recorder)
    batch, span = batch_of([ENCODER.encode(item) for item in items])
    assert await pipeline.write(pipeline.prepare(batch, span)) == {(TOPIC, 0): 2}
    tokens = [token for _what, _body, token in recorder.log]
    # After each failure ClickHouse has none of the rows: the same token could be one a
    # failed try left recorded (the second here), so each try has a token of its own.
    assert tokens == [dedup_token(kind, span.ranges, keys, attempt) for attempt in range(3)]
    assert recorder.times_stored(kind) == dict.fromkeys(keys, 1)
    if kind == "clicks":  # a replay reads the label as another insert's: it drops them
        assert recorder.times_stored("view") == dict.fromkeys(keys, 1)
        assert {labels[0] for labels in recorder.stored(kind).values()} == {"in/0/0-1#2"}


@pytest.mark.parametrize("kind", KINDS)
@settings(max_examples=60, deadline=None)
@given(failures=st.lists(st.sampled_from(FAILURES), max_size=6))
def test_every_row_is_stored_once_however_the_tries_fail(kind: str, failures: list[Failure]
                                                         ) -> None:
    recorder = Recorder(failures=list(failures))
    pipeline = make(kind, recorder, retry_initial_s=0.0001)
    items, keys = valid_items(kind, recorder)
    batch, span = batch_of([ENCODER.encode(item) for item in items])

    async def written() -> dict[Any, int]:
        return await pipeline.write(pipeline.prepare(batch, span))

    assert asyncio.run(written()) == {(TOPIC, 0): 2}
    assert recorder.times_stored(kind) == dict.fromkeys(keys, 1)
    if kind == "clicks":
        assert recorder.times_stored("view") == dict.fromkeys(keys, 1)


@pytest.mark.parametrize("kind", KINDS)
async def test_a_batch_of_only_bad_messages_inserts_nothing_and_commits(kind: str) -> None:
    recorder = Recorder()
    pipeline = make(kind, recorder)
    batch, span = batch_of([None, b"[]"], first=7)
    assert await pipeline.write(pipeline.prepare(batch, span)) == {(TOPIC, 0): 9}
    assert [entry[0] for entry in recorder.log] == ["dlq", "dlq"]


async def test_a_conversion_waiting_for_its_click_pins_the_commit_until_it_resolves() -> None:
    recorder = Recorder()
    pipeline = make("conversions", recorder, attribution_grace_s=60.0)
    later = IDS.new(NOW_MS - 3000)
    first, span = batch_of([ENCODER.encode(a_conversion(0, later))], first=4)
    assert await pipeline.write(pipeline.prepare(first, span)) == {(TOPIC, 0): 4}
    assert recorder.log == [] and pipeline.has_pending()
    pipeline.committed({(TOPIC, 0): 4})
    recorder.clicks[later] = stored_click(later)
    # An empty batch resolves what is held, as the consumer writes one while anything is.
    assert await pipeline.write(pipeline.prepare([], Span())) == {(TOPIC, 0): 5}
    [(_what, (_table, columns), _token)] = recorder.log
    assert column("conversions", columns, "attributed") == [True]
    assert not pipeline.has_pending()


async def test_the_grace_of_a_conversion_starts_when_it_is_written_not_prepared() -> None:
    # The write before may wait out a ClickHouse outage while this batch sits prepared.
    recorder = Recorder()
    pipeline = make("conversions", recorder, attribution_grace_s=0.05)
    batch, span = batch_of([ENCODER.encode(a_conversion(0, IDS.new(NOW_MS - 3000)))])
    prepared = pipeline.prepare(batch, span)
    await asyncio.sleep(0.1)
    assert await pipeline.write(prepared) == {(TOPIC, 0): 0}
    assert recorder.log == []  # held: its grace has only just begun
    await asyncio.sleep(0.1)
    assert await pipeline.write(pipeline.prepare([], Span())) == {(TOPIC, 0): 1}
    [(_what, (_table, columns), _token)] = recorder.log
    assert column("conversions", columns, "attributed") == [False]
