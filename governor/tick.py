"""What one pass of the governor's loop hands each of its tasks.

A task is an object with a `name` and an `async tick(tick)`; the service calls every task
once per pass, while it leads, with the same `Tick`. Time is `tick.now_ms`, passed in and
never read from the clock inside a task, so tests drive a task through days without
sleeping. A task that acts exactly once per occasion claims the occasion with
`governor.once.once` inside the transaction that acts.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import httpx
import redis.asyncio as aioredis

from turnout.config.compiled import CompiledGraph
from turnout.control.db import Pool
from turnout.control.entities import Actor
from turnout.control.publisher import Publisher

ACTOR = "governor"  # the actor of every audit row and version the governor writes


def actor(workspace_id: str) -> Actor:
    """The control-plane actor of the governor's writes in `workspace_id`."""
    return Actor(workspace_id, ACTOR)


class ClickHouse:
    """Queries (and the governor's own inserts: postback_deliveries) on a clickhouse-connect
    client, off the event loop.

    One client, one query at a time (a chdb handle is not shared between threads), run in
    a worker thread so the loop keeps renewing the lease meanwhile."""

    def __init__(self, make_client: Callable[[], Any], database: str) -> None:
        self._make = make_client
        self._client: Any = None
        self._lock = asyncio.Lock()
        self.database = database

    async def rows(self, sql: str, parameters: dict[str, Any] | None = None
                   ) -> Sequence[Sequence[Any]]:
        """The rows of `sql` (ClickHouse `{name:Type}` parameters from `parameters`)."""
        async with self._lock:
            return await asyncio.to_thread(self._query, sql, parameters or {})

    def _query(self, sql: str, parameters: dict[str, Any]) -> Sequence[Sequence[Any]]:
        if self._client is None:
            self._client = self._make()
        return self._client.query(sql, parameters=parameters).result_rows  # type: ignore[no-any-return]

    async def insert(self, table: str, columns: Sequence[tuple[str, str]],
                     rows: Sequence[Sequence[Any]]) -> None:
        """Insert `rows` into `table`; `columns` names each value's column and its ClickHouse
        type (as ingest.schema lists them), so the client never asks the server for them."""
        async with self._lock:
            await asyncio.to_thread(self._insert, table, columns, rows)

    def _insert(self, table: str, columns: Sequence[tuple[str, str]],
                rows: Sequence[Sequence[Any]]) -> None:
        if self._client is None:
            self._client = self._make()
        self._client.insert(table, rows, column_names=[name for name, _ in columns],
                            column_type_names=[kind for _, kind in columns],
                            database=self.database)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None


@dataclass(frozen=True, slots=True)
class Tick:
    now_ms: int  # the pass's time; every decision of the pass uses it
    epoch: int  # the leader's fencing epoch (governor/leader.py); grows with every new leader
    pool: Pool  # the control plane (PostgreSQL)
    redis: aioredis.Redis  # the graph's Redis: meters, overlay, locks
    prefix: str  # the graph's Redis key prefix (TURNOUT_GRAPH_PREFIX)
    clickhouse: ClickHouse  # the data plane: reads, and postback_deliveries inserts
    publisher: Publisher  # publishes what a task changed in the control plane
    http: httpx.AsyncClient  # outgoing postbacks and webhooks
    # The published graph as the service follows it (None until the first version loads):
    # what campaigns, offers and sources exist and their budgets, caps and templates.
    graph: CompiledGraph | None = None


class Task(Protocol):
    name: str

    async def tick(self, tick: Tick) -> None:
        """One pass. Raise to have the error counted and logged; the next pass runs anyway."""
