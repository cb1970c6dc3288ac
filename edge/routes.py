"""Every path the edge serves, in one table: its methods, its handler, and its door.

Quick paths (the clicks) are answered by one synchronous call (edge.quick): by EdgeApp
for any ASGI server, and inline by edge.protocol, both through `QuickPaths`. The other
paths are Starlette routes built from the same table. Paths are in Starlette's syntax
and match whole, in both doors: `/click` and `/click/{n:path}` are lander clicks,
`/clicks` is no route at all (Starlette's 404).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Final

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from turnout.edge.endpoints import Endpoints
from turnout.edge.errors import BadInput
from turnout.edge.lpclick import LanderClickHandler
from turnout.edge.metrics import RouteStats
from turnout.edge.openapi import OpenApiEndpoint
from turnout.edge.quick import QuickRoute
from turnout.edge.redirect import ClickHandler
from turnout.edge.refusals import Refusals, Refuse, json_refusal, text_refusal
from turnout.edge.runtime import Runtime

Endpoint = Callable[[Request], Awaitable[Response]]
CLICK_METHODS: Final = ("GET", "HEAD")
_TRAILING_PATH = re.compile(r"(?P<prefix>[^{}]*)\{\w+:path\}")


@dataclass(frozen=True, slots=True)
class Quick:
    """A click path: `route` (its handler, methods and counters) answers it in one call."""

    path: str
    route: QuickRoute


@dataclass(frozen=True, slots=True)
class Page:
    """A Starlette route; answered and refused (`refuse`) as counted by `stats`, if any."""

    path: str
    methods: tuple[str, ...]
    endpoint: Endpoint
    refuse: Refuse = json_refusal
    stats: RouteStats | None = None


def table(runtime: Runtime, sink_ready: Callable[[], bool]) -> tuple[Quick | Page, ...]:
    metrics = runtime.metrics
    clicks, landers = ClickHandler(runtime), LanderClickHandler(runtime)
    endpoints = Endpoints(runtime, sink_ready)
    click = QuickRoute(clicks.answer, metrics.route("c"), "click handler", CLICK_METHODS,
                       metrics.redirect_latency)
    lander = QuickRoute(landers.answer, metrics.route("click"), "lander click handler",
                        CLICK_METHODS)
    hop = QuickRoute(landers.hop_answer, metrics.route("hop"), "hop handler", CLICK_METHODS)
    document = OpenApiEndpoint()
    paths = (
        Quick("/c/{code:path}", click),
        Quick("/click", lander),
        Quick("/click/{n:path}", lander),
        Quick("/r", hop),
        # Starlette also answers HEAD wherever GET is allowed: stated, so the table is true.
        Page("/postback", ("GET", "HEAD", "POST"), endpoints.postback, json_refusal,
             metrics.route("postback")),
        Page("/p.gif", ("GET", "HEAD"), endpoints.pixel, text_refusal, metrics.route("pixel")),
        Page("/api/v1/events", ("POST",), endpoints.events, json_refusal,
             metrics.route("events")),
        Page("/healthz", ("GET", "HEAD"), endpoints.healthz),
        Page("/readyz", ("GET", "HEAD"), endpoints.readyz),
        Page("/metrics", ("GET", "HEAD"), endpoints.metrics),
        Page("/openapi.json", ("GET", "HEAD"), document.serve),
    )
    document.describe((entry.path, methods_of(entry)) for entry in paths)
    return paths


def methods_of(entry: Quick | Page) -> tuple[str, ...]:
    return entry.route.methods if isinstance(entry, Quick) else entry.methods


class QuickPaths:
    """The quick route of a path, matched as Starlette matches the table's paths: a whole
    path, or a prefix for a path ending in `{name:path}`. An exact path under a prefix
    would make the order matter, so it is refused; so is any other parameter."""

    __slots__ = ("_exact", "_prefixes")

    def __init__(self, quick: Iterable[Quick]) -> None:
        self._exact: dict[str, QuickRoute] = {}
        self._prefixes: list[tuple[str, QuickRoute]] = []
        for entry in quick:
            trailing = _TRAILING_PATH.fullmatch(entry.path)
            if trailing is not None:
                self._prefixes.append((trailing["prefix"], entry.route))
            elif "{" in entry.path or entry.path in self._exact:
                raise ValueError(f"quick path {entry.path!r}: a whole path, once, or one "
                                 "ending in {name:path}")
            else:
                self._exact[entry.path] = entry.route
        for path in self._exact:
            for prefix, _ in self._prefixes:
                if path.startswith(prefix):
                    raise ValueError(f"quick path {path!r} is under the prefix {prefix!r}")

    def match(self, path: str) -> QuickRoute | None:
        for prefix, route in self._prefixes:
            if path.startswith(prefix):
                return route
        return self._exact.get(path)


def _counted(endpoint: Endpoint, stats: RouteStats) -> Endpoint:
    async def counted(request: Request) -> Response:
        response = await endpoint(request)
        stats.count(response.status_code)
        return response

    return counted


def starlette_app(paths: Iterable[Quick | Page]) -> Starlette:
    """The Starlette door: the table's pages, with bad input answered by their refusals.
    Quick paths never reach it (EdgeApp answers them first)."""
    pages = [entry for entry in paths if isinstance(entry, Page)]
    routes = [Route(page.path, page.endpoint if page.stats is None
                    else _counted(page.endpoint, page.stats), methods=list(page.methods))
              for page in pages]
    refusals = Refusals({page.path: (page.refuse, page.stats) for page in pages})
    app = Starlette(routes=routes, exception_handlers={BadInput: refusals})
    # No slash redirects: Starlette builds them from the Host header (spoofable, and http
    # behind a TLS terminator); `/postback/` is simply not a path.
    app.router.redirect_slashes = False
    return app
