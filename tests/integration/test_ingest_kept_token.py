"""An insert after a failed try, against the real chdb: the rows ClickHouse has go again
under their token (the views get what they lack), those it has not under a new one.

A try can fail after ClickHouse recorded its dedup token and without its part: chdb does
so when the part's final rename fails (the storage turned unwritable; it lost a batch in
tests/integration/test_faults.py before Pipeline.insert looked). That state is built here
the way chdb keeps it for a part whose rows a mutation deleted: the token stays in the
table's deduplication log, and an insert with it is acknowledged and stores nothing (each
test checks that first). `clicks` is written with its views detached, as when the rename
fails before any view's part. Then the pipeline inserts the same batch, its first try
failing before it reaches ClickHouse, and what each table holds is counted.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator, Sequence
from typing import Any

import clickhouse_connect
import pytest

from tests.integration.ingest_support import (
    click,
    conversion,
    make_database,
    settings_for,
    totals,
    unique,
    views_detached,
)
from turnout.events import Event
from turnout.ingest import attribution
from turnout.ingest.batch import Span
from turnout.ingest.click_pipeline import ClickPipeline
from turnout.ingest.consumer import clickhouse_factory
from turnout.ingest.conversion_pipeline import ConversionPipeline
from turnout.ingest.event_pipeline import EventPipeline
from turnout.ingest.pipelines import Insert, Pipeline
from turnout.ingest.store import Store

ROWS = 40
KEY_COLUMN = {"clicks": "click_id", "conversions": "conversion_id", "events": "event_id"}
TOPICS = {kind: f"kept.{kind}" for kind in ("clicks", "conversions", "events", "dlq")}


class FirstTryFails(Store):
    """The real store; its first insert fails before anything is sent."""

    failed = False

    def insert_encoded(self, table: str, body: bytes, token: str) -> None:
        if not self.failed:
            self.failed = True
            raise ConnectionError("connection reset (injected)")
        super().insert_encoded(table, body, token)


@pytest.fixture
def database(clickhouse_dsn: str) -> str:
    return make_database(clickhouse_dsn)


@pytest.fixture
def ch(clickhouse_dsn: str, database: str) -> Iterator[Any]:
    client = clickhouse_connect.get_client(dsn=clickhouse_dsn)
    client.database = database
    yield client
    client.close()


def pipeline_for(kind: str, store: Store, database: str) -> Pipeline[Any, Any]:
    cls = {"clicks": ClickPipeline, "conversions": ConversionPipeline, "events": EventPipeline}
    settings = settings_for(database, TOPICS, retry_initial_s=0.01)
    return cls[kind](store, None, settings, asyncio.Event())  # type: ignore[arg-type]


def rows_of(kind: str, ws: str) -> list[Any]:
    if kind == "clicks":  # counted in all three rollups
        return [click(ws, cost_model="fixed_total", cost_rate_micros=1_000)
                for _ in range(ROWS)]
    if kind == "conversions":
        return [attribution.unattributed_row(conversion(
            click_id=f"unknown-{i}", workspace_id=ws, campaign_id="c1")) for i in range(ROWS)]
    return [Event(event_id=uuid.uuid4().hex, name="signup", workspace_id=ws, campaign_id="c1",
                  ts_ms=click(ws).ts_ms) for _ in range(ROWS)]


def the_insert(pipeline: Pipeline[Any, Any], rows: Sequence[Any]) -> Insert:
    span = Span()
    for offset in range(len(rows)):
        span.add(TOPICS[pipeline.table], 0, offset)
    insert = pipeline.encode(rows, span)
    assert insert is not None
    return insert


def times_stored(ch: Any, kind: str, ws: str) -> list[int]:
    """How many rows each stored key has, once per key."""
    column = KEY_COLUMN[kind]
    return [int(n) for (n,) in ch.query(
        f"SELECT count() FROM {kind} WHERE workspace_id = {{w:String}} GROUP BY {column}",
        parameters={"w": ws}).result_rows]


def delete_rows(ch: Any, kind: str, ws: str) -> None:
    """The part's rows gone, its token left in the deduplication log."""
    ch.command(f"ALTER TABLE {kind} DELETE WHERE workspace_id = {{w:String}} "
               "SETTINGS mutations_sync = 2", parameters={"w": ws})


@pytest.mark.parametrize("kind", ["clicks", "conversions", "events"])
async def test_a_batch_whose_token_clickhouse_kept_without_its_rows_is_stored_once(
        clickhouse_dsn: str, database: str, ch: Any, kind: str) -> None:
    ws = unique("ws")
    store = Store(clickhouse_factory(clickhouse_dsn)(), database)
    insert = the_insert(pipeline_for(kind, store, database), rows_of(kind, ws))
    with views_detached(ch, database):  # (with them a duplicate block feeds the views)
        store.insert_encoded(insert.table, insert.body, insert.token)
        delete_rows(ch, kind, ws)
        store.insert_encoded(insert.table, insert.body, insert.token)
        assert times_stored(ch, kind, ws) == []  # acknowledged, nothing stored: the state

    failing = FirstTryFails(clickhouse_factory(clickhouse_dsn)(), database)
    await pipeline_for(kind, failing, database).insert(insert)
    assert failing.failed
    assert times_stored(ch, kind, ws) == [1] * ROWS
    if kind == "clicks":
        assert totals(ch, ws) == dict.fromkeys(("clicks", "ids", "geo", "wide", "fixed"), ROWS)
        labels = ch.query("SELECT DISTINCT ingest_batch FROM clicks WHERE workspace_id = "
                          "{w:String}", parameters={"w": ws}).result_rows
        assert labels == [(f"kept.clicks/0/0-{ROWS - 1}#1",)]


async def test_clicks_stored_before_a_failed_try_are_retried_under_their_token(
        clickhouse_dsn: str, database: str, ch: Any) -> None:
    # The try stored `clicks` and failed before the views' parts: the retry must not store
    # the clicks again, and must give every view its part.
    ws = unique("ws")
    store = Store(clickhouse_factory(clickhouse_dsn)(), database)
    insert = the_insert(pipeline_for("clicks", store, database), rows_of("clicks", ws))
    with views_detached(ch, database):
        store.insert_encoded(insert.table, insert.body, insert.token)
    assert totals(ch, ws) == {"clicks": ROWS, "ids": ROWS, "geo": 0, "wide": 0, "fixed": 0}

    failing = FirstTryFails(clickhouse_factory(clickhouse_dsn)(), database)
    await pipeline_for("clicks", failing, database).insert(insert)
    assert failing.failed
    assert totals(ch, ws) == dict.fromkeys(("clicks", "ids", "geo", "wide", "fixed"), ROWS)
