"""Numbered plain-SQL migration files, as both `turnout migrate` runners read them.

ClickHouse's (ingest/migrations) and PostgreSQL's (control/migrations) share the rules:
files are named `NNNN_name.sql`, applied once each in number order, and recorded with the
sha256 of their text; a file that changed after it was applied is an error, not a re-run.
What a runner does with a file (statement by statement, or one transaction) is its own.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from turnout.errors import TurnoutError

NAME: Final = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


class MigrationError(TurnoutError, RuntimeError):
    """A migration file is malformed or differs from the one applied. Each runner raises a
    subclass in its own part's family."""


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


def load_migrations(directory: Path, error: type[MigrationError] = MigrationError
                    ) -> list[Migration]:
    """The files of `directory` in version order; `error` is raised for a bad name."""
    found: dict[int, Migration] = {}
    for path in sorted(directory.glob("*.sql")):
        match = NAME.match(path.name)
        if not match:
            raise error(f"{path.name}: migration files are named NNNN_name.sql")
        version = int(match.group(1))
        if version in found:
            raise error(f"{path.name}: version {version} is used twice")
        found[version] = Migration(version, path.name, path.read_text())
    return [found[v] for v in sorted(found)]


def pending(migrations: list[Migration], applied: Mapping[int, str],
            error: type[MigrationError] = MigrationError) -> list[Migration]:
    """The migrations not applied yet; `applied` maps version -> checksum as recorded."""
    todo = []
    for migration in migrations:
        checksum = applied.get(migration.version)
        if checksum is None:
            todo.append(migration)
        elif checksum != migration.checksum:
            raise error(f"{migration.name} changed after it was applied")
    return todo
