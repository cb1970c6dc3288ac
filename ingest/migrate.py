"""`turnout migrate`: apply the numbered plain-SQL files in ingest/migrations, once each.

The files name tables without a database; every statement runs with the client's current
database set to the target, so the same files serve chdb, a server and per-test databases.
Applied files are recorded in `schema_migrations` with a checksum; a file that changed
after it was applied is an error, not a silent re-run.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from clickhouse_connect.driver.client import Client

from turnout.ingest.errors import IngestError

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")
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


class MigrationError(IngestError, RuntimeError):
    """A migration file is malformed or differs from the one applied."""


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()

    def statements(self) -> list[str]:
        return split_statements(self.sql)


def split_statements(sql: str) -> list[str]:
    """Split on `;` at the end of a line; the files keep one statement per such block."""
    statements, current = [], []
    for line in sql.splitlines():
        if line.strip().startswith("--"):
            continue
        current.append(line)
        if line.rstrip().endswith(";"):
            text = "\n".join(current).strip().rstrip(";").strip()
            if text:
                statements.append(text)
            current = []
    tail = "\n".join(current).strip()
    if tail:
        statements.append(tail)
    return statements


def load_migrations(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    found: dict[int, Migration] = {}
    for path in sorted(directory.glob("*.sql")):
        match = _NAME.match(path.name)
        if not match:
            raise MigrationError(f"{path.name}: migration files are named NNNN_name.sql")
        version = int(match.group(1))
        if version in found:
            raise MigrationError(f"{path.name}: version {version} is used twice")
        found[version] = Migration(version, path.name, path.read_text())
    return [found[v] for v in sorted(found)]


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
        done = applied(client, database)
        names = []
        for migration in migrations:
            checksum = done.get(migration.version)
            if checksum is not None:
                if checksum != migration.checksum:
                    raise MigrationError(f"{migration.name} changed after it was applied")
                continue
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
