"""How the edge answers what it cannot serve: bad input with its 4xx and reason, a bug with
a 500. The one error path of both doors.

Quick routes (the click paths) go through `guarded`: their answer is a tuple, so a bug is
a logged 500 on a connection that keeps serving. Starlette routes raise BadInput and
Starlette's exception handling answers it with the route's refusal (`Refusals`); a bug
there is Starlette's own 500, re-raised for the server to log.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Final

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.types import Scope

from turnout.edge.errors import BadInput
from turnout.edge.metrics import RouteStats
from turnout.edge.responses import Answer, plain

log = logging.getLogger("edge")

Refuse = Callable[[BadInput], Response]
_NO_STORE: Final = {"cache-control": "no-store"}


def guarded(compute: Callable[[Scope, bool], Answer], scope: Scope, head: bool, what: str
            ) -> Answer:
    """`compute(scope, head)`, bad input as its 4xx and anything unexpected as a logged
    500, so that a handler never breaks the connection."""
    try:
        return compute(scope, head)
    except BadInput as exc:
        return plain(exc.status, exc.reason)
    except Exception:
        log.exception("%s failed", what)
        return plain(500, "internal error")


def json_refusal(exc: BadInput) -> Response:
    """For callers that read the answer (networks' postbacks, the events API)."""
    return JSONResponse({"status": "rejected", "reason": exc.reason}, exc.status,
                        headers=_NO_STORE)


def text_refusal(exc: BadInput) -> Response:
    """For the pixel: an image tag shows nothing of it; the reason is for people debugging."""
    return PlainTextResponse(exc.reason, exc.status, headers=_NO_STORE)


class Refusals:
    """Starlette's handler of BadInput: the refusal of the route that raised it, counted
    with the route's answers. Routes by path (Starlette routes are not hashable)."""

    def __init__(self, routes: Mapping[str, tuple[Refuse, RouteStats | None]]) -> None:
        self._routes = dict(routes)

    async def __call__(self, request: Request, exc: Exception) -> Response:
        if not isinstance(exc, BadInput):  # registered for BadInput only
            raise exc
        route = request.scope.get("route")
        refuse, stats = self._routes.get(getattr(route, "path", ""), (json_refusal, None))
        response = refuse(exc)
        if stats is not None:
            stats.count(response.status_code)
        return response
