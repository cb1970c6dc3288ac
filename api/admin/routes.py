"""The one route table of /api/v1: every route names the least role it needs.

Each route module exports `ROUTES: list[AdminRoute]`; `table()` concatenates them and
`starlette_routes()` is the only way they reach the app, each wrapped so that the role is
checked (403) before the body is read (400/413/422) and before the endpoint runs. The auth
middleware (auth.py) has already answered 401 for a missing, malformed, unknown, expired
or revoked key by then.

An endpoint is `async def endpoint(request) -> Response`, or with a `body` Struct
`async def endpoint(request, body) -> Response`: the body arrives decoded and validated
(unknown fields refused, as every Struct here has `forbid_unknown_fields=True`).
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Final

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from turnout.api.admin.bodies import read_body
from turnout.api.admin.principal import at_least, principal_of, rank
from turnout.api.problems import Problem

# The modules whose ROUTES make the table, in the order they are matched.
ROUTE_MODULES: Final = (
    "turnout.api.report_routes",
    "turnout.api.admin.keys_routes",
    "turnout.api.admin.audit_routes",
    "turnout.api.admin.versions_routes",
    "turnout.api.admin.lifecycle_routes",
    "turnout.api.admin.templates_routes",
    "turnout.api.admin.automation_routes",
    "turnout.api.admin.webhooks_routes",
    "turnout.api.admin.fx_routes",
    "turnout.api.admin.entities",
)
PREFIX: Final = "/api/v1"


@dataclass(frozen=True, slots=True)
class AdminRoute:
    method: str
    path: str
    """Starlette path under /api/v1, e.g. `/api/v1/campaigns/{id}`."""
    endpoint: Callable[..., Awaitable[Response]]
    min_role: str
    """The least role (principal.ROLES) that may call it."""
    summary: str
    body: type | None = None
    """A msgspec Struct: the JSON body is decoded into it and passed to the endpoint."""
    response: type | None = None
    """The type of a 2xx JSON answer, for the OpenAPI document."""
    status: int = 200
    """The status of its success (201 for a create), for the OpenAPI document."""
    if_match: bool = False
    """It needs `If-Match: <revision>` (api/admin/writes.if_match: 428 without, 412 stale)."""
    names_in_body: bool = False
    """Its body names something of the workspace (a template): 404 when it is not there."""

    def __post_init__(self) -> None:
        rank(self.min_role)  # an unknown role is an error at import, not a 500 later
        if not self.path.startswith(PREFIX + "/"):
            raise ValueError(f"admin route {self.path!r} is not under {PREFIX}/")
        if self.method != self.method.upper():
            raise ValueError(f"method {self.method!r}: upper case")


def table() -> list[AdminRoute]:
    routes: list[AdminRoute] = []
    for name in ROUTE_MODULES:
        routes.extend(importlib.import_module(name).ROUTES)
    seen: set[tuple[str, str]] = set()
    for route in routes:
        if (route.method, route.path) in seen:
            raise ValueError(f"two admin routes for {route.method} {route.path}")
        seen.add((route.method, route.path))
    return routes


def guarded(route: AdminRoute) -> Callable[[Request], Awaitable[Response]]:
    """The Starlette endpoint of `route`: role, then body, then the route's endpoint."""
    async def endpoint(request: Request) -> Response:
        principal = principal_of(request)
        if not at_least(principal, route.min_role):
            raise Problem(403, detail=f"{route.method} {route.path} needs a {route.min_role} "
                                      f"key or higher; this key is {principal.role}")
        if route.body is None:
            return await route.endpoint(request)
        body: Any = await read_body(request, route.body)
        return await route.endpoint(request, body)

    endpoint.__name__ = getattr(route.endpoint, "__name__", "endpoint")
    return endpoint


def starlette_routes(routes: list[AdminRoute] | None = None) -> list[Route]:
    return [Route(r.path, guarded(r), methods=[r.method])
            for r in (table() if routes is None else routes)]
