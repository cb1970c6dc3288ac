"""`turnout governor`: budgets, caps, schedules, automation rules, postbacks and webhooks
(SPEC §11). Any number may run; one leads."""

from __future__ import annotations

import argparse
from typing import Any


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("governor", help="make budgets, caps, schedules and rules act")
    parser.add_argument("--host", help="/healthz /readyz /metrics host (TURNOUT_GOVERNOR_HOST)")
    parser.add_argument("--port", type=int, help="their port (TURNOUT_GOVERNOR_PORT, 8082)")
    parser.set_defaults(func=governor_command)


def settings_from(args: argparse.Namespace) -> Any:
    import dataclasses

    from turnout.governor.settings import GovernorSettings

    settings = GovernorSettings.from_env()
    changes: dict[str, Any] = {}
    if getattr(args, "host", None):
        changes["host"] = args.host
    if getattr(args, "port", None):
        changes["port"] = args.port
    return dataclasses.replace(settings, **changes)


def clickhouse_factory(settings: Any) -> Any:
    def make() -> Any:
        import clickhouse_connect

        return clickhouse_connect.get_client(dsn=settings.clickhouse_dsn,
                                             database=settings.database)

    return make


def governor_command(args: argparse.Namespace) -> int:
    import asyncio
    import logging

    from turnout.governor.app import serve
    from turnout.governor.tasks import default_tasks

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    settings = settings_from(args)
    asyncio.run(serve(settings, default_tasks(settings), clickhouse_factory(settings),
                      handle_signals=True))
    return 0
