"""What the admin API keeps per process: the PostgreSQL pool, the key cache and usage
recorder, the rate limiter. It lives at `request.app.state.admin`.

The pool is opened on first use (the app is built outside an event loop), without waiting
for the server: PostgreSQL down or TURNOUT_POSTGRES_URL unset is ControlUnavailable at the
request that needs it, answered 503, never a failed start.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import psycopg
from starlette.requests import Request

from turnout.api.admin.key_cache import KeyCache
from turnout.api.admin.key_usage import KeyUsage
from turnout.api.admin.ratelimit import RateLimiter
from turnout.api.settings import ApiSettings
from turnout.control import db, keys
from turnout.control.errors import ControlUnavailable


class AdminState:
    def __init__(self, settings: ApiSettings, limiter: RateLimiter | None = None) -> None:
        self.settings = settings
        self._pool: db.Pool | None = None
        self._opening = asyncio.Lock()
        self.keys = KeyCache(self._find_key, settings.key_cache_s)
        self.usage = KeyUsage(self._touch_keys)
        self.limiter = limiter or RateLimiter(settings.redis_url)

    async def pool(self) -> db.Pool:
        if self._pool is None:
            if not self.settings.postgres_url:
                raise ControlUnavailable("the control plane is not configured: "
                                         "TURNOUT_POSTGRES_URL is not set")
            async with self._opening:
                if self._pool is None:
                    self._pool = await db.open_pool(self.settings.postgres_url)
        return self._pool

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[psycopg.AsyncConnection]:
        """A pooled connection in a transaction that commits when the block ends without
        an error; ControlUnavailable when PostgreSQL is out of reach."""
        async with db.connection(await self.pool()) as conn:
            yield conn

    async def _find_key(self, key_id: str) -> keys.StoredKey | None:
        async with self.connection() as conn:
            return await keys.find(conn, key_id)

    async def _touch_keys(self, used: dict[str, dt.datetime]) -> None:
        async with self.connection() as conn:
            await keys.touch(conn, used)

    async def aclose(self) -> None:
        await self.usage.aclose()
        await self.limiter.aclose()
        if self._pool is not None:
            await self._pool.close()
            self._pool = None


def admin_state(request: Request) -> AdminState:
    state: AdminState = request.app.state.admin
    return state


@asynccontextmanager
async def connection(request: Request) -> AsyncIterator[psycopg.AsyncConnection]:
    """`async with connection(request) as conn:` one transaction of the control plane."""
    async with admin_state(request).connection() as conn:
        yield conn
