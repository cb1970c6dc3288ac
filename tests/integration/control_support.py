"""Databases of their own on the session's PostgreSQL, for tests that change tables."""

from __future__ import annotations

import uuid

import psycopg
from psycopg.conninfo import make_conninfo

from turnout.control.migrate import migrate


def empty_database(server_url: str, prefix: str = "control_test") -> str:
    """A new, empty database on the server; its connection string."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return make_conninfo(server_url, dbname=name)


def control_database(server_url: str) -> str:
    """A new database with every control/migrations file applied."""
    url = empty_database(server_url)
    migrate(url)
    return url
