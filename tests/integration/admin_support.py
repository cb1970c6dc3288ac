"""The admin API in process on real PostgreSQL, Valkey and chdb: workspaces and keys made
through control/keys.py, an httpx client on the app, the app closed afterwards."""

from __future__ import annotations

import contextlib
import datetime as dt
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import clickhouse_connect
import httpx
import psycopg
from starlette.applications import Starlette

from turnout.api.admin.ratelimit import RateLimiter
from turnout.api.app import close_app, create_app
from turnout.api.settings import ApiSettings
from turnout.control import keys
from turnout.ingest.migrate import migrate as migrate_clickhouse
from turnout.reports.workspaces import GraphFacts, StaticFacts, WorkspaceFacts


async def make_workspaces(url: str, *ids: str) -> None:
    async with await psycopg.AsyncConnection.connect(url) as conn:
        for workspace in ids:
            await conn.execute("INSERT INTO workspaces (id, name) VALUES (%s, %s)",
                               (workspace, f"Workspace {workspace}"))


async def make_key(url: str, workspace: str, role: str, *, rate_per_minute: int | None = None,
                   expires_at: dt.datetime | None = None) -> str:
    """A new key's token, made as `turnout key create --bootstrap` does (no role check)."""
    async with await psycopg.AsyncConnection.connect(url) as conn:
        _, token = await keys.create(conn, workspace_id=workspace, role=role,
                                     name=f"{role} key", rate_per_minute=rate_per_minute,
                                     expires_at=expires_at, actor="test")
    return token


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def facts_for(*workspaces: str) -> StaticFacts:
    return StaticFacts(GraphFacts(1, {w: WorkspaceFacts("UTC", "USD") for w in workspaces},
                                  {}))


@contextlib.contextmanager
def clickhouse_database(dsn: str, prefix: str) -> Iterator[tuple[str, str]]:
    """A migrated, empty ClickHouse database for the report routes: (dsn, database)."""
    database = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin = clickhouse_connect.get_client(dsn=dsn)
    migrate_clickhouse(admin, database)
    try:
        yield dsn, database
    finally:
        admin.command(f"DROP DATABASE IF EXISTS {database}")


@contextlib.asynccontextmanager
async def admin_app(postgres: str, redis_url: str, clickhouse: tuple[str, str],
                    facts: StaticFacts, **settings: Any
                    ) -> AsyncIterator[tuple[Starlette, httpx.AsyncClient]]:
    """The whole API app (admin and report routes) with its own rate-limit buckets."""
    dsn, database = clickhouse
    # A graph of its own in Redis: the app's publisher writes there.
    settings.setdefault("graph_prefix", f"test:graph:{uuid.uuid4().hex[:8]}")
    config = ApiSettings(postgres_url=postgres, redis_url=redis_url, clickhouse_dsn=dsn,
                         database=database, pool_size=1, **settings)
    limiter = RateLimiter(redis_url, prefix=f"test:ratelimit:{uuid.uuid4().hex[:8]}:")
    app = create_app(config, lambda: clickhouse_connect.get_client(dsn=dsn, database=database),
                     facts, limiter=limiter)
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
            yield app, client
    finally:
        await close_app(app)
