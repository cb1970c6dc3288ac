"""Running the report API on uvicorn: alone (`turnout api`) or inside `turnout ingest --api`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.types import ASGIApp

from turnout import embedded_server, slow_clients
from turnout.api.app import FactsSource, close_app, create_app, start_app
from turnout.api.pool import ClientFactory
from turnout.api.settings import ApiSettings


async def serve(settings: ApiSettings, client_factory: ClientFactory,
                host: str | None = None, port: int | None = None,
                facts: FactsSource | None = None, handle_signals: bool = False,
                wrap: Callable[[Starlette], ASGIApp] | None = None) -> None:
    """Serve the API until cancelled (then shut down gracefully) or, with `handle_signals`,
    until SIGINT/SIGTERM. `wrap`: what is served instead of the API app, built around it
    (the dashboard, which the CLI composes: api/ does not import it)."""
    app = create_app(settings, client_factory, facts)
    served = app if wrap is None else wrap(app)
    config = uvicorn.Config(served, host=host or settings.host, port=port or settings.port,
                            log_level="info", access_log=settings.access_log,
                            lifespan="off", server_header=False,
                            http=slow_clients.guarded_protocol(settings.client_limits),
                            timeout_keep_alive=settings.keep_alive_s)  # type: ignore[arg-type]
    await start_app(app)
    try:
        await embedded_server.serve(config, handle_signals)
    finally:
        await close_app(app)


def client_factory(settings: ApiSettings) -> ClientFactory:
    """New clickhouse-connect clients on the settings' DSN and database."""

    def make() -> Any:
        import clickhouse_connect

        return clickhouse_connect.get_client(dsn=settings.clickhouse_dsn,
                                             database=settings.database)

    return make
