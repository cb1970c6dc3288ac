"""A world for the entity routes: a control database holding the example graph
(workspace acme) and an empty workspace beta, keys of every role, the API app on it.

The app's publisher (control/publisher.py) is wrapped in a recorder at
app.state.publisher: `World.published` lists what the routes told it, and it publishes.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import psycopg

from tests.integration.admin_support import admin_app, bearer, facts_for, make_key, make_workspaces
from tests.integration.control_support import control_database
from turnout.api.admin.principal import ROLES
from turnout.config import examples
from turnout.config.io import load_graph
from turnout.control.graph_write import import_graph

EXAMPLE = load_graph(examples.GRAPH)
A, B = "acme", "beta"


@dataclass
class Recorder:
    """The app's publisher, noting each `changed` call before passing it on."""

    inner: Any
    calls: list[tuple[str, str, str, dict[str, list[str]]]] = field(default_factory=list)

    def changed(self, workspace_id: str, actor: str, note: str,
                entities: dict[str, list[str]]) -> None:
        self.calls.append((workspace_id, actor, note, entities))
        self.inner.changed(workspace_id, actor, note, entities)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


@dataclass
class World:
    url: str
    http: httpx.AsyncClient
    keys: dict[str, str]  # role -> token, workspace acme
    foreign: str  # an owner token of workspace beta
    recorder: Recorder

    @property
    def published(self) -> list[tuple[str, str, str, dict[str, list[str]]]]:
        return self.recorder.calls

    def headers(self, role: str = "editor", revision: int | None = None,
                request_id: str | None = None) -> dict[str, str]:
        headers = bearer(self.keys[role])
        if revision is not None:
            headers["If-Match"] = f'"{revision}"'
        if request_id is not None:
            headers["X-Request-Id"] = request_id
        return headers

    async def get(self, path: str, role: str = "viewer") -> httpx.Response:
        return await self.http.get(path, headers=self.headers(role))

    async def revision(self, path: str) -> int:
        answer = await self.get(path)
        assert answer.status_code == 200, answer.text
        return int(answer.json()["revision"])

    async def send(self, method: str, path: str, body: Any = None, *,
                   revision: int | None = None, role: str = "editor",
                   request_id: str | None = None) -> httpx.Response:
        return await self.http.request(method, path, json=body,
                                       headers=self.headers(role, revision, request_id))

    async def sql(self, query: str, *args: Any) -> list[tuple[Any, ...]]:
        async with await psycopg.AsyncConnection.connect(self.url) as conn:
            cursor = await conn.execute(query, args)
            return await cursor.fetchall()


def new_request_id() -> str:
    return uuid.uuid4().hex


@contextlib.asynccontextmanager
async def entity_world(postgres_url: str, redis_url: str, clickhouse_dsn: str
                       ) -> AsyncIterator[World]:
    url = control_database(postgres_url)
    async with await psycopg.AsyncConnection.connect(url) as conn:
        await import_graph(conn, EXAMPLE)
    await make_workspaces(url, B)
    keys = {role: await make_key(url, A, role) for role in ROLES}
    foreign = await make_key(url, B, "owner")
    # Reports are not asked here: the ClickHouse database is never opened.
    async with admin_app(url, redis_url, (clickhouse_dsn, "entities_unused"),
                         facts_for(A, B), rate_per_minute=1_000_000) as (app, http):
        recorder = Recorder(app.state.publisher)
        app.state.publisher = recorder
        yield World(url, http, keys, foreign, recorder)
