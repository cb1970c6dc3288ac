"""`turnout migrate`: apply the numbered plain-SQL files in ingest/migrations, once each.

The files name tables without a database; every statement runs with the client's current
database set to the target, so the same files serve chdb, a server and per-test databases.
Applied files are recorded in `schema_migrations` with a checksum; a file that changed
after it was applied is an error, not a silent re-run (turnout/migration_files.py, shared
with the PostgreSQL runner in control/migrate.py).
"""

from __future__ import annotations

import re
from pathlib import Path

from clickhouse_connect.driver.client import Client

from turnout import migration_files
from turnout.ingest.errors import IngestError
from turnout.migration_files import Migration, split_statements

__all__ = ["MIGRATIONS_DIR", "Migration", "MigrationError", "load_migrations", "migrate",
           "split_statements"]

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

_LEDGER = """
CREATE TABLE IF NOT EXISTS schema_migrations
(
    version UInt32 COMMENT 'Number of the migration file (NNNN_)',
    name String COMMENT 'File name of the migration',
    checksum String COMMENT 'sha256 of the file as applied',
    applied_at DateTime64(3, 'UTC') DEFAULT now64(3) COMMENT 'When it was applied'
)
ENGINE = ReplacingMergeTree
ORDER BY version
COMMENT 'Migrations applied by turnout migrate'
"""


class MigrationError(IngestError, migration_files.MigrationError):
    """A migration file is malformed or differs from the one applied."""


def load_migrations(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    return migration_files.load_migrations(directory, MigrationError)


def check_identifier(name: str) -> str:
    if not _IDENTIFIER.match(name):
        raise MigrationError(f"{name!r} is not a plain database name")
    return name


def applied(client: Client, database: str) -> dict[int, str]:
    rows = client.query(
        f"SELECT version, argMax(checksum, applied_at) FROM {database}.schema_migrations "
        "GROUP BY version"
    ).result_rows
    return {int(version): str(checksum) for version, checksum in rows}


def migrate(
    client: Client, database: str = "turnout", directory: Path = MIGRATIONS_DIR
) -> list[str]:
    """Apply the pending migrations to `database`; return the names applied."""
    check_identifier(database)
    migrations = load_migrations(directory)
    client.command(f"CREATE DATABASE IF NOT EXISTS {database}")
    previous = client.database
    client.database = database
    try:
        client.command(_LEDGER)
        names = []
        for migration in migration_files.pending(migrations, applied(client, database),
                                                 MigrationError):
            for statement in migration.statements():
                client.command(statement)
            client.insert(
                "schema_migrations",
                [[migration.version, migration.name, migration.checksum]],
                column_names=["version", "name", "checksum"],
            )
            names.append(migration.name)
        return names
    finally:
        if previous:
            client.database = previous
