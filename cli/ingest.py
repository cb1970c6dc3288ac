"""`turnout ingest`. Other ingest commands register here too (`turnout migrate` is in
cli/migrate.py)."""

from __future__ import annotations

import argparse
from typing import Any


def register(subparsers: Any) -> None:
    ingest = subparsers.add_parser("ingest", help="consume Kafka events into ClickHouse")
    ingest.add_argument("--dsn", help="ClickHouse DSN (default: TURNOUT_CLICKHOUSE_DSN)")
    ingest.add_argument("--database", help="ClickHouse database (default: turnout)")
    ingest.add_argument("--bootstrap", help="Kafka bootstrap (default: TURNOUT_KAFKA_BOOTSTRAP)")
    ingest.add_argument("--batch-size", type=int, help="records per batch (default 5000)")
    ingest.add_argument("--batch-wait", type=float, help="seconds per batch at most (default 1)")
    ingest.add_argument(
        "--no-migrate", action="store_true", help="do not apply pending migrations first"
    )
    ingest.add_argument(
        "--api", action="store_true",
        help="also serve the report API in this process (chdb: one data path per process)",
    )
    ingest.add_argument("--api-host", help="report API host (default: TURNOUT_API_HOST)")
    ingest.add_argument("--api-port", type=int, help="report API port (default: TURNOUT_API_PORT)")
    ingest.add_argument(
        "--governor", action="store_true",
        help="also run the governor in this process (chdb: one data path per process)",
    )
    ingest.set_defaults(func=ingest_command)


def _settings(args: argparse.Namespace) -> Any:
    import dataclasses

    from turnout.ingest.settings import IngestSettings

    settings = IngestSettings.from_env()
    changes: dict[str, Any] = {}
    if getattr(args, "database", None):
        changes["database"] = args.database
    if getattr(args, "batch_size", None):
        changes["batch_size"] = args.batch_size
    if getattr(args, "batch_wait", None):
        changes["batch_wait_s"] = args.batch_wait
    return dataclasses.replace(settings, **changes)


def _connections(args: argparse.Namespace) -> Any:
    import dataclasses

    from turnout.connections import Connections

    connections = Connections.from_env()
    changes = {}
    if getattr(args, "dsn", None):
        changes["clickhouse_dsn"] = args.dsn
    if getattr(args, "bootstrap", None):
        changes["kafka_bootstrap"] = args.bootstrap
    return dataclasses.replace(connections, **changes)


def ingest_command(args: argparse.Namespace) -> int:
    import asyncio
    import logging

    import clickhouse_connect

    from turnout.ingest.migrate import migrate

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    connections, settings = _connections(args), _settings(args)
    if not args.no_migrate:
        migrate(clickhouse_connect.get_client(dsn=connections.clickhouse_dsn), settings.database)
    api = _api_settings(args, connections, settings) if args.api else None
    from turnout.ingest.consumer import serve

    async def main() -> None:
        companions = _companions(connections, settings, api)
        if args.governor:
            companions.append(_governor(connections, settings))
        await serve(connections, settings, companions)

    asyncio.run(main())
    return 0


def _api_settings(args: argparse.Namespace, connections: Any, settings: Any) -> Any:
    import dataclasses

    from turnout.api.settings import ApiSettings

    api = ApiSettings.from_env()
    changes: dict[str, Any] = {
        "clickhouse_dsn": connections.clickhouse_dsn, "database": settings.database,
    }
    if args.api_host:
        changes["host"] = args.api_host
    if args.api_port:
        changes["port"] = args.api_port
    return dataclasses.replace(api, **changes)


def _companions(connections: Any, settings: Any, api: Any | None) -> list[Any]:
    """What runs beside the consumers: the graph-names follower and, with --api, the API."""
    from turnout import env
    from turnout.ingest.graph_names import follow_graph

    def names_client() -> Any:
        import clickhouse_connect

        return clickhouse_connect.get_client(dsn=connections.clickhouse_dsn,
                                             database=settings.database)

    companions = [follow_graph(connections.redis_url, env.text("graph_prefix", "turnout:graph"),
                               names_client, settings.database, settings.retry)]
    if api is not None:
        from turnout.api.server import client_factory, serve
        from turnout.cli.report import dashboard_wrap

        companions.append(serve(api, client_factory(api), wrap=dashboard_wrap()))
    return companions


def _governor(connections: Any, settings: Any) -> Any:
    """The governor on this process's ClickHouse (its own client, as the API has)."""
    import dataclasses

    from turnout.cli.governor import clickhouse_factory
    from turnout.governor.app import serve
    from turnout.governor.settings import GovernorSettings
    from turnout.governor.tasks import default_tasks

    governor = dataclasses.replace(GovernorSettings.from_env(),
                                   clickhouse_dsn=connections.clickhouse_dsn,
                                   database=settings.database)
    return serve(governor, default_tasks(governor), clickhouse_factory(governor))
