"""`turnout key`: --bootstrap straight into PostgreSQL, then create/list/revoke over a real
`turnout api` (uvicorn on a free port)."""

from __future__ import annotations

import asyncio
import contextlib
import io
import uuid

import psycopg
import pytest

from tests.integration.control_support import control_database
from tests.integration.e2e_support import serving
from turnout.api.settings import ApiSettings
from turnout.cli.main import main
from turnout.errors import EXIT_BAD_INPUT, EXIT_OK, EXIT_UNAVAILABLE
from turnout.local.services import free_port
from turnout.reports.workspaces import GraphFacts, StaticFacts


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


def running_api(postgres: str, redis_url: str) -> contextlib.AbstractAsyncContextManager[str]:
    settings = ApiSettings(postgres_url=postgres, redis_url=redis_url, key_cache_s=0.0)
    return serving(settings, lambda: None, StaticFacts(GraphFacts(1, {}, {})))


@pytest.fixture
def db(postgres_url: str) -> str:
    return control_database(postgres_url)


def test_bootstrap_makes_the_workspace_and_refuses_a_second_owner(db):
    workspace = f"ws-{uuid.uuid4().hex[:6]}"
    code, out, err = run("key", "create", "--bootstrap", "--workspace", workspace,
                         "--role", "owner", "--postgres-url", db)
    assert code == EXIT_OK, err
    token = out.strip()
    assert token.startswith("tk_") and "\n" not in token and token not in err
    assert f"workspace {workspace} created" in err
    again = run("key", "create", "--bootstrap", "--workspace", workspace, "--role", "owner",
                "--postgres-url", db)
    assert again[0] == EXIT_BAD_INPUT and "already has an owner key" in again[2]
    forced = run("key", "create", "--bootstrap", "--workspace", workspace, "--role", "owner",
                 "--postgres-url", db, "--force")
    assert forced[0] == EXIT_OK and forced[1].strip() != token
    with psycopg.connect(db) as conn:
        rows = conn.execute("SELECT actor, action FROM audit WHERE workspace_id = %s "
                            "ORDER BY id", (workspace,)).fetchall()
        assert conn.execute("SELECT count(*) FROM api_keys WHERE workspace_id = %s",
                            (workspace,)).fetchone() == (2,)
    assert rows == [("bootstrap", "create"), ("bootstrap", "create")]


def test_bootstrap_without_postgres_is_unavailable():
    dead = f"postgresql://postgres@127.0.0.1:{free_port()}/postgres"
    code, _, err = run("key", "create", "--bootstrap", "--workspace", "w", "--role", "owner",
                       "--postgres-url", dead)
    assert code == EXIT_UNAVAILABLE and "PostgreSQL is unavailable" in err


async def test_create_list_revoke_over_the_api(db, redis_url):
    _, out, _ = await asyncio.to_thread(
        run, "key", "create", "--bootstrap", "--workspace", "acme", "--role", "owner",
        "--postgres-url", db)
    owner = out.strip()
    async with running_api(db, redis_url) as url:
        flags = ("--api", url, "--key", owner)
        code, out, err = await asyncio.to_thread(
            run, "key", "create", "--role", "editor", "--name", "ci", *flags)
        assert code == EXIT_OK, err
        editor = out.strip()
        editor_id = editor.split("_")[1]
        code, out, _ = await asyncio.to_thread(run, "key", "list", *flags)
        assert code == EXIT_OK and editor_id in out and "ci" in out and editor not in out
        code, out, _ = await asyncio.to_thread(run, "key", "revoke", editor_id, *flags)
        assert code == EXIT_OK and f"key {editor_id} revoked" in out
        # The revoked key is refused; a problem+json answer becomes exit 3 with its detail.
        code, _, err = await asyncio.to_thread(run, "key", "list", "--api", url, "--key",
                                               editor)
        assert code == EXIT_BAD_INPUT and "HTTP 401: this API key was revoked" in err
        code, _, err = await asyncio.to_thread(run, "key", "create", "--role", "viewer",
                                               "--rate-per-minute", "0", *flags)
        assert code == EXIT_BAD_INPUT and "rate_per_minute:" in err
    code, _, err = await asyncio.to_thread(run, "key", "list", "--api", url, "--key", owner)
    assert code == EXIT_UNAVAILABLE
