"""`turnout migrate` for PostgreSQL: apply the numbered plain-SQL files in
control/migrations, once each, each file in one transaction.

Files are read, ordered and checksummed by turnout/migration_files.py, as the ClickHouse
runner does; applied ones are recorded in `schema_migrations`, and a file that changed
after it was applied is an error. An advisory lock keeps two runs from racing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

import psycopg

from turnout import migration_files
from turnout.control.db import unavailable
from turnout.control.errors import ControlError
from turnout.migration_files import Migration

MIGRATIONS_DIR: Final = Path(__file__).parent / "migrations"
# pg_advisory_lock key of `turnout migrate` (any constant; "turnout" in ASCII, truncated).
_LOCK: Final = 0x7475726E6F7574

_LEDGER: Final = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version integer PRIMARY KEY,
    name text NOT NULL,
    checksum text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE schema_migrations IS 'Migrations applied by turnout migrate'
"""


class MigrationError(ControlError, migration_files.MigrationError):
    """A migration file is malformed or differs from the one applied."""


def load_migrations(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    return migration_files.load_migrations(directory, MigrationError)


def migrate(url: str, directory: Path = MIGRATIONS_DIR) -> list[str]:
    """Apply the pending migrations to the database at `url`; return the names applied.
    Raises ControlUnavailable when the server cannot be reached."""
    migrations = load_migrations(directory)
    try:
        conn = psycopg.connect(url, autocommit=True, connect_timeout=10)
    except psycopg.OperationalError as exc:
        raise unavailable(exc) from None
    with conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK,))
        conn.execute(_LEDGER)
        applied = dict(conn.execute("SELECT version, checksum FROM schema_migrations"))
        names = []
        for migration in migration_files.pending(migrations, applied, MigrationError):
            try:
                with conn.transaction():
                    # The whole file in one round trip (no parameters: plain query protocol,
                    # so function bodies and several statements are fine).
                    conn.execute(migration.sql.encode())
                    conn.execute(
                        "INSERT INTO schema_migrations (version, name, checksum) "
                        "VALUES (%s, %s, %s)",
                        (migration.version, migration.name, migration.checksum),
                    )
            except psycopg.Error as exc:
                exc.add_note(f"while applying {migration.name}")
                raise
            names.append(migration.name)
        return names
