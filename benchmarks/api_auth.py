"""What the /api/v1 middleware costs per request: key check, rate limit, headers.

    python -m benchmarks.api_auth [--json] [--requests N] [--rounds N] [--cpu N]

Valkey and PostgreSQL are started from the local-services wheels under a temporary
directory and a viewer key is made before timing. Three apps answer the same constant
endpoint, called as ASGI (no HTTP stack, so the figure is the middleware's own):
`bare` (a plain Starlette route: the baseline), `auth` (the route table's guard behind
AdminAuth with the key cached and the token bucket in Valkey: what every request pays)
and `auth_no_redis` (the same with Redis out of reach: failing open). Each round times
`--requests` sequential requests; the median of the rounds counts, as a ratio to `bare`
measured in the same run. The process pins itself to one CPU.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


def pin(cpu: int) -> int | None:
    if not hasattr(os, "sched_setaffinity"):
        return None
    allowed = os.sched_getaffinity(0)
    target = cpu if cpu in allowed else min(allowed)
    os.sched_setaffinity(0, {target})
    return target


async def constant(request: Request) -> Response:
    return Response(b'{"ok":true}', media_type="application/json")


def apps(postgres_url: str, redis_url: str, dead_redis: str) -> dict[str, Starlette]:
    from turnout.api import problems
    from turnout.api.admin.auth import AdminAuth
    from turnout.api.admin.routes import AdminRoute, starlette_routes
    from turnout.api.admin.state import AdminState
    from turnout.api.settings import ApiSettings

    route = AdminRoute("GET", "/api/v1/bench", constant, "viewer", "benchmark")
    built = {"bare": Starlette(routes=[Route("/api/v1/bench", constant)])}
    for name, url in (("auth", redis_url), ("auth_no_redis", dead_redis)):
        settings = ApiSettings(postgres_url=postgres_url, redis_url=url,
                               rate_per_minute=10**9, key_cache_s=3600.0)
        admin = AdminState(settings)
        app = Starlette(routes=starlette_routes([route]),
                        middleware=[Middleware(AdminAuth, admin=admin)])
        problems.install(app)
        app.state.admin = admin
        built[name] = app
    return built


async def one(app: Starlette, headers: list[tuple[bytes, bytes]]) -> int:
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": "GET", "scheme": "http", "path": "/api/v1/bench", "raw_path":
             b"/api/v1/bench", "root_path": "", "query_string": b"", "headers": headers,
             "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80)}
    status = 0

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(scope, receive, send)
    return status


async def measure(args: argparse.Namespace, postgres_url: str, redis_url: str,
                  dead_redis: str) -> dict[str, Any]:
    import psycopg

    from turnout.control import keys

    async with await psycopg.AsyncConnection.connect(postgres_url) as conn:
        await conn.execute("INSERT INTO workspaces (id, name) VALUES ('bench', 'Bench')")
        _, token = await keys.create(conn, workspace_id="bench", role="viewer",
                                     actor="benchmark")
    headers = [(b"authorization", f"Bearer {token}".encode())]
    built = apps(postgres_url, redis_url, dead_redis)
    rounds: dict[str, list[float]] = {name: [] for name in built}
    for app in built.values():  # warm: the key cache, the script's SHA, the pools
        for _ in range(50):
            assert await one(app, headers) == 200
    for _ in range(args.rounds):
        for name, app in built.items():
            started = time.perf_counter()
            for _ in range(args.requests):
                await one(app, headers)
            rounds[name].append((time.perf_counter() - started) / args.requests * 1e6)
    for app in built.values():
        if hasattr(app.state, "admin"):
            await app.state.admin.aclose()
    medians = {name: statistics.median(values) for name, values in rounds.items()}
    return {"us_per_request": {k: round(v, 1) for k, v in medians.items()},
            "ratio_to_bare": {k: round(v / medians["bare"], 2) for k, v in medians.items()},
            "rounds_us": {k: [round(x, 1) for x in v] for k, v in rounds.items()}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--requests", type=int, default=2000, help="requests per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--cpu", type=int, default=1, help="CPU to pin to")
    args = parser.parse_args(argv)
    cpu = pin(args.cpu)

    from turnout.control.migrate import migrate
    from turnout.local.services import POSTGRES_USER, free_port, postgres, valkey

    with tempfile.TemporaryDirectory(prefix="turnout-bench-auth-") as tmp:
        data = Path(tmp)
        redis_service, pg_service = valkey(data), postgres(data)
        redis_service.start()
        try:
            pg_service.start()
            try:
                url = f"postgresql://{POSTGRES_USER}@127.0.0.1:{pg_service.port}/postgres"
                migrate(url)
                figures = asyncio.run(measure(
                    args, url, f"redis://127.0.0.1:{redis_service.port}/0",
                    f"redis://127.0.0.1:{free_port()}/0"))
            finally:
                pg_service.stop()
        finally:
            redis_service.stop()
    figures = {"benchmark": "api_auth", "requests": args.requests, "rounds": args.rounds,
               "cpu": cpu, **figures}
    if args.json:
        print(json.dumps(figures))
    else:
        for name, us in figures["us_per_request"].items():
            print(f"{name:>14}: {us:8.1f} µs/request  x{figures['ratio_to_bare'][name]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
