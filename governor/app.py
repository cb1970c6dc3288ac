"""The governor's HTTP face: /healthz (alive), /readyz (can act), /metrics (Prometheus), and
`serve`, which runs the service with it on uvicorn: alone (`turnout governor`) or inside
`turnout ingest --api --governor` (chdb: one data path per process)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from turnout import embedded_server
from turnout.governor.service import Governor
from turnout.governor.settings import GovernorSettings
from turnout.governor.tick import Task


def exposition(values: dict[str, float | dict[str, float]]) -> str:
    """Prometheus text: a plain value per family, or one series per task (`task` label)."""
    lines = []
    for name, value in sorted(values.items()):
        kind = "counter" if name.endswith("_total") else "gauge"
        lines.append(f"# TYPE {name} {kind}")
        if isinstance(value, dict):
            lines.extend(f'{name}{{task="{task}"}} {amount:g}'
                         for task, amount in sorted(value.items()))
        else:
            lines.append(f"{name} {value:g}")
    return "\n".join(lines) + "\n"


def create_app(governor: Governor) -> Starlette:
    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> Response:
        ok, checks = await governor.ready()
        return JSONResponse({"status": "ready" if ok else "not ready", **checks},
                            status_code=200 if ok else 503)

    async def metrics(request: Request) -> Response:
        return PlainTextResponse(exposition(governor.metrics()),
                                 media_type="text/plain; version=0.0.4")

    return Starlette(routes=[Route("/healthz", healthz), Route("/readyz", readyz),
                             Route("/metrics", metrics)])


async def serve(settings: GovernorSettings, tasks: Sequence[Task],
                make_clickhouse: Callable[[], Any], handle_signals: bool = False) -> None:
    """Run the governor and its HTTP face until cancelled or, with `handle_signals`, until
    SIGINT/SIGTERM; then release the lead so a successor takes over at once."""
    governor = Governor(settings, tasks, make_clickhouse)
    config = uvicorn.Config(create_app(governor), host=settings.host, port=settings.port,
                            log_level="warning", access_log=False, lifespan="off",
                            server_header=False)
    await governor.start()
    try:
        await embedded_server.serve(config, handle_signals)
    finally:
        await governor.stop()
