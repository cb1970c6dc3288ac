"""The control plane's PostgreSQL connections: one async pool per process.

The pool opens without waiting for the server: while PostgreSQL is down, `connection()`
raises ControlUnavailable (the admin API answers 503) within `timeout` (2 s), and once it
is back the pool reconnects by itself. A connection is checked before it is handed out, so
the first request after a server restart does not fail on a dead socket.

Reconnects: psycopg_pool retries a lost connection with its own backoff (1 s, doubling)
for `reconnect_timeout`; left at its 5 minutes, a PostgreSQL back after an outage of a few
seconds waited up to 8.6 s for the pool's next attempt (measured). At 2 s the pool gives
an attempt up soon, and the next request asks for a new connection at once, so a server
that came back is used within a fraction of a second. Each connect is bounded by
`connect_timeout`, so an address that answers nothing fails it rather than hanging.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Final

import psycopg
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from turnout.connections import Connections
from turnout.control.errors import ControlError, ControlUnavailable

# SQLSTATEs that mean the server is out of reach rather than the statement wrong:
# class 08 (connection exception), 57P01..57P03 (shutdown, crash, not accepting yet).
_UNREACHABLE: Final = ("08", "57P01", "57P02", "57P03")
Pool = AsyncConnectionPool[psycopg.AsyncConnection]


def unavailable(exc: Exception) -> ControlUnavailable:
    """The ControlUnavailable to raise for `exc`, saying why without the URL (it may hold a
    password)."""
    reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return ControlUnavailable(f"PostgreSQL is unavailable: {reason}")


def is_unreachable(exc: BaseException) -> bool:
    if isinstance(exc, PoolTimeout):
        return True
    if not isinstance(exc, psycopg.OperationalError):
        return False
    state = exc.sqlstate
    return state is None or state.startswith(_UNREACHABLE)


DEFAULT_TIMEOUT_S: Final = 2.0
RECONNECT_TIMEOUT_S: Final = 2.0
CONNECT_TIMEOUT_S: Final = 2  # libpq's connect_timeout: whole seconds, at least 2


async def open_pool(url: str, *, min_size: int = 1, max_size: int = 10,
                    timeout: float = DEFAULT_TIMEOUT_S, wait: bool = False,
                    reconnect_timeout: float = RECONNECT_TIMEOUT_S) -> Pool:
    """An opened pool of autocommit-off connections to `url`. `timeout`: how long a caller
    waits for a connection before ControlUnavailable. `wait`: fail now (ControlUnavailable)
    unless `min_size` connections can be made within `timeout`. `reconnect_timeout`: how
    long the pool keeps trying one lost connection before a new request asks again."""
    pool: Pool = AsyncConnectionPool(
        url, min_size=min_size, max_size=max_size, timeout=timeout, open=False,
        check=AsyncConnectionPool.check_connection, name="turnout-control",
        reconnect_timeout=reconnect_timeout, kwargs={"connect_timeout": CONNECT_TIMEOUT_S},
    )
    try:
        await pool.open(wait=wait, timeout=timeout)
    except PoolTimeout as exc:
        await pool.close()
        raise unavailable(exc) from None
    return pool


async def pool_from_env(environ: Mapping[str, str] | None = None, *, max_size: int = 10,
                        timeout: float = DEFAULT_TIMEOUT_S, wait: bool = False) -> Pool:
    """`open_pool` on TURNOUT_POSTGRES_URL."""
    url = Connections.from_env(environ).postgres_url
    if url is None:
        raise ControlError("TURNOUT_POSTGRES_URL is not set: the control plane needs "
                           "PostgreSQL")
    return await open_pool(url, max_size=max_size, timeout=timeout, wait=wait)


@asynccontextmanager
async def connection(pool: Pool) -> AsyncIterator[psycopg.AsyncConnection]:
    """A pooled connection; PostgreSQL out of reach, before or during the block, raises
    ControlUnavailable. The block's work commits when it ends without an error."""
    try:
        async with pool.connection() as conn:
            yield conn
    except (PoolTimeout, psycopg.OperationalError) as exc:
        if is_unreachable(exc):
            raise unavailable(exc) from exc
        raise
