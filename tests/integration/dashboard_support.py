"""The dashboard on the API app in process (real PostgreSQL, Valkey, chdb): the example
graph in workspace acme (whose owner keys may import exchange rates), keys of every role,
and a browser-like client that signs in."""

from __future__ import annotations

import contextlib
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import psycopg

from tests.integration.admin_support import admin_app, clickhouse_database, make_key
from tests.integration.control_support import control_database
from tests.integration.entities_support import EXAMPLE, A
from turnout.api.admin.principal import ROLES
from turnout.control.graph_write import import_graph
from turnout.dashboard.app import with_dashboard
from turnout.dashboard.settings import DashboardSettings
from turnout.reports.workspaces import StaticFacts

_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def csrf_of(html: str) -> str:
    match = _CSRF.search(html)
    assert match, "no CSRF field on the page"
    return match.group(1)


@dataclass
class Browser:
    """An httpx client keeping cookies, as a browser would."""

    http: httpx.AsyncClient

    async def sign_in(self, token: str) -> httpx.Response:
        page = await self.http.get("/ui/sign-in")
        return await self.http.post("/ui/sign-in", data={"csrf": csrf_of(page.text),
                                                         "key": token})

    async def csrf(self, path: str = "/ui/campaigns") -> str:
        return csrf_of((await self.http.get(path)).text)


@dataclass
class DashWorld:
    url: str
    keys: dict[str, str]
    app: httpx.ASGITransport
    redis_url: str
    graph_prefix: str

    @contextlib.asynccontextmanager
    async def browser(self) -> AsyncIterator[Browser]:
        async with httpx.AsyncClient(transport=self.app, base_url="http://dash") as http:
            yield Browser(http)


@contextlib.asynccontextmanager
async def dashboard_world(postgres_url: str, redis_url: str, clickhouse_dsn: str,
                          facts: StaticFacts) -> AsyncIterator[DashWorld]:
    url = control_database(postgres_url)
    async with await psycopg.AsyncConnection.connect(url) as conn:
        await import_graph(conn, EXAMPLE)
    keys = {role: await make_key(url, A, role) for role in ROLES}
    settings = DashboardSettings(session_prefix=f"test:dash:{uuid.uuid4().hex[:8]}:")
    with clickhouse_database(clickhouse_dsn, "dash") as clickhouse:
        async with admin_app(url, redis_url, clickhouse, facts,
                             rate_per_minute=1_000_000, fx_writers=(A,)) as (app, _):
            served = with_dashboard(app, settings)
            yield DashWorld(url, keys, httpx.ASGITransport(app=served), redis_url,
                            app.state.api.settings.graph_prefix)
