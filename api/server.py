"""Running the report API on uvicorn: alone (`turnout api`) or inside `turnout ingest --api`."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.types import ASGIApp

from turnout.api.app import FactsSource, close_app, create_app, start_app
from turnout.api.pool import ClientFactory
from turnout.api.settings import ApiSettings


class _Server(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, handle_signals: bool) -> None:
        super().__init__(config)
        self.handle_signals = handle_signals

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # Embedded next to the ingest consumers, the host process owns SIGTERM/SIGINT.
        if not self.handle_signals:
            yield
            return
        with super().capture_signals():
            yield


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
                            lifespan="off", server_header=False)
    server = _Server(config, handle_signals)
    await start_app(app)
    task = asyncio.ensure_future(server.serve())
    try:
        await asyncio.shield(task)
    except asyncio.CancelledError:
        server.should_exit = True
        await task
        raise
    finally:
        await close_app(app)


def client_factory(settings: ApiSettings) -> ClientFactory:
    """New clickhouse-connect clients on the settings' DSN and database."""

    def make() -> Any:
        import clickhouse_connect

        return clickhouse_connect.get_client(dsn=settings.clickhouse_dsn,
                                             database=settings.database)

    return make
