"""`turnout migrate`: the ClickHouse schema (ingest/migrations) and, when PostgreSQL is
configured, the control plane's (control/migrations)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from turnout.errors import EXIT_BAD_INPUT, EXIT_OK, EXIT_UNAVAILABLE

TARGETS = ("clickhouse", "postgres")


def register(subparsers: Any) -> None:
    migrate = subparsers.add_parser(
        "migrate", help="apply ClickHouse and PostgreSQL schema migrations",
        description="Apply pending migrations: ClickHouse always, PostgreSQL when "
                    "--postgres-url or TURNOUT_POSTGRES_URL is set.",
    )
    migrate.add_argument("--dsn", help="ClickHouse DSN (default: TURNOUT_CLICKHOUSE_DSN)")
    migrate.add_argument(
        "--database", help="target database (default: TURNOUT_CLICKHOUSE_DATABASE or turnout)"
    )
    migrate.add_argument("--postgres-url",
                         help="control plane PostgreSQL (default: TURNOUT_POSTGRES_URL)")
    migrate.add_argument("--only", choices=TARGETS, help="migrate this one only")
    migrate.set_defaults(func=migrate_command)


def migrate_command(args: argparse.Namespace) -> int:
    from turnout.connections import Connections

    connections = Connections.from_env()
    postgres_url = args.postgres_url or connections.postgres_url
    if args.only == "postgres" and postgres_url is None:
        print("turnout migrate: --only postgres needs --postgres-url or TURNOUT_POSTGRES_URL",
              file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.only != "postgres":
        code = _clickhouse(args.dsn or connections.clickhouse_dsn, args.database)
        if code != EXIT_OK:
            return code
    if args.only != "clickhouse" and postgres_url is not None:
        _postgres(postgres_url)
    return EXIT_OK


def _clickhouse(dsn: str, database: str | None) -> int:
    import clickhouse_connect
    from clickhouse_connect.driver.exceptions import OperationalError

    from turnout.ingest.migrate import migrate
    from turnout.ingest.settings import IngestSettings

    database = database or IngestSettings.from_env().database
    try:
        applied = migrate(clickhouse_connect.get_client(dsn=dsn), database)
    # OperationalError: ClickHouse did not answer. A failing statement raises DatabaseError,
    # a bug in a migration, and keeps its traceback.
    except OperationalError as exc:
        print(f"turnout migrate: {exc}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    _report(f"clickhouse {database}", applied)
    return EXIT_OK


def _postgres(url: str) -> None:
    # ControlUnavailable (retriable: exit 4) reaches main's handler; a failing statement
    # keeps its traceback, noted with the file it came from.
    from turnout.control.migrate import migrate

    _report("postgres", migrate(url))


def _report(target: str, applied: list[str]) -> None:
    for name in applied:
        print(f"{target}: applied {name}")
    if not applied:
        print(f"{target}: up to date")
