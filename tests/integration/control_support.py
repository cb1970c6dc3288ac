"""Databases of their own on the session's PostgreSQL, for tests that change tables."""

from __future__ import annotations

import uuid

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from turnout.control.migrate import migrate

# Server URL -> a database every control/migrations file was applied to, once: a copy of
# it (CREATE DATABASE ... TEMPLATE, a file copy) takes about half as long as the migrations.
_MIGRATED: dict[str, str] = {}


def empty_database(server_url: str, prefix: str = "control_test") -> str:
    """A new, empty database on the server; its connection string."""
    return _create(server_url, f"{prefix}_{uuid.uuid4().hex[:10]}")


def control_database(server_url: str) -> str:
    """A new database with every control/migrations file applied."""
    template = _MIGRATED.get(server_url)
    if template is None:
        url = empty_database(server_url, "control_template")
        migrate(url)
        template = _MIGRATED[server_url] = str(conninfo_to_dict(url)["dbname"])
    return _create(server_url, f"control_test_{uuid.uuid4().hex[:10]}", template)


def _create(server_url: str, name: str, template: str | None = None) -> str:
    copy = "" if template is None else f' TEMPLATE "{template}"'
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"{copy}')
    return make_conninfo(server_url, dbname=name)
