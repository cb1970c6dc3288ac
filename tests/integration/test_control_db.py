"""The control plane's pool against a PostgreSQL that stops and comes back."""

from __future__ import annotations

from pathlib import Path

import pytest

from turnout.control.db import connection, open_pool, pool_from_env
from turnout.control.errors import ControlError, ControlUnavailable
from turnout.local.services import free_port, postgres


async def test_a_stopped_server_is_unavailable_and_a_restarted_one_serves_again(
        tmp_path: Path) -> None:
    server = postgres(tmp_path)
    server.start()
    url = f"postgresql://postgres@127.0.0.1:{server.port}/postgres"
    pool = await open_pool(url, timeout=2.0, wait=True)
    try:
        async with connection(pool) as conn:
            assert await (await conn.execute("SELECT 1")).fetchone() == (1,)
        server.stop()
        with pytest.raises(ControlUnavailable) as down:
            async with connection(pool) as conn:
                await conn.execute("SELECT 1")
        assert down.value.retriable and "PostgreSQL is unavailable" in str(down.value)
        server.start()
        async with connection(pool) as conn:  # the dead connection is not handed out
            assert await (await conn.execute("SELECT 2")).fetchone() == (2,)
    finally:
        await pool.close()
        server.stop()


async def test_errors_of_the_statement_are_not_unavailability(postgres_url: str) -> None:
    pool = await open_pool(postgres_url, wait=True)
    try:
        with pytest.raises(Exception) as raised:
            async with connection(pool) as conn:
                await conn.execute("SELECT no_such_column")
        assert not isinstance(raised.value, ControlUnavailable)
    finally:
        await pool.close()


async def test_the_pool_comes_from_the_environment(postgres_url: str) -> None:
    with pytest.raises(ControlError, match="TURNOUT_POSTGRES_URL is not set"):
        await pool_from_env({})
    with pytest.raises(ControlUnavailable):
        await pool_from_env({"TURNOUT_POSTGRES_URL": f"postgresql://x:pw@127.0.0.1:"
                                                     f"{free_port()}/x"}, timeout=1, wait=True)
    pool = await pool_from_env({"TURNOUT_POSTGRES_URL": postgres_url})
    try:
        async with connection(pool) as conn:
            assert await (await conn.execute("SELECT 1")).fetchone() == (1,)
    finally:
        await pool.close()
