"""The report API's routes in the one route table (viewer keys and up).

The endpoints are the methods of the app's ReportApi (api/app.py); the OpenAPI document of
their parameters is api/openapi.py's, which the admin document does not replace.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response

from turnout.api.admin.routes import AdminRoute


def _endpoint(name: str) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        response: Response = await request.app.state.api.handle(name, request)
        return response

    endpoint.__name__ = name.replace("-", "_")
    return endpoint


ROUTES: list[AdminRoute] = [
    AdminRoute("GET", "/api/v1/report", _endpoint("report"), "viewer",
               "Metrics grouped by dimensions"),
    AdminRoute("GET", "/api/v1/timeline", _endpoint("timeline"), "viewer",
               "Metrics per day or hour"),
    AdminRoute("GET", "/api/v1/leaderboard", _endpoint("leaderboard"), "viewer",
               "Top values of a dimension by a metric"),
    AdminRoute("GET", "/api/v1/ab", _endpoint("ab"), "viewer",
               "A/B test of a rule's destinations"),
    AdminRoute("GET", "/api/v1/not-counted", _endpoint("not-counted"), "viewer",
               "Conversions that count in no report, by reason"),
    AdminRoute("GET", "/api/v1/held", _endpoint("held"), "viewer",
               "Conversions held out of money: no exchange rate for their currency and day"),
]
PATHS = frozenset(route.path for route in ROUTES)
