"""RFC 9457 problem details: the one error shape of the admin API.

Raise `Problem` anywhere below a route (or return `problem_response(p)` from middleware,
which runs outside Starlette's exception handlers); `install` maps it, a ControlUnavailable,
a StoreUnavailable and Starlette's own 404/405 to `application/problem+json`.
"""

from __future__ import annotations

import http
from collections.abc import Iterable, Mapping
from typing import Final

import orjson
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from turnout.config import errors as config_errors
from turnout.control.errors import ControlUnavailable

MEDIA_TYPE: Final = "application/problem+json"


class Problem(Exception):
    """An HTTP error answer: `status`, a short `title` (the status phrase by default), a
    `detail` for this occurrence and `errors`, (path, message) pairs in the graph-validation
    path style (`rules[1].destinations[0].weight`; "" for the whole body)."""

    def __init__(self, status: int, title: str = "", detail: str = "",
                 errors: Iterable[tuple[str, str]] = (),
                 headers: Mapping[str, str] | None = None) -> None:
        self.status = status
        self.title = title or _phrase(status)
        self.detail = detail
        self.errors: list[tuple[str, str]] = list(errors)
        self.headers: dict[str, str] = dict(headers or {})
        super().__init__(f"{self.status} {self.title}: {detail}" if detail else self.title)

    @classmethod
    def invalid(cls, problems: Iterable[config_errors.Problem],
                detail: str = "the request is not valid") -> Problem:
        """422 with every validation problem at its path."""
        return cls(422, detail=detail, errors=[(p.path, p.message) for p in problems])

    @classmethod
    def unavailable(cls, exc: BaseException) -> Problem:
        """503 for a backing service out of reach (ControlUnavailable, StoreUnavailable);
        the reason is the exception's message, which those classes keep free of secrets."""
        return cls(503, detail=str(exc) or type(exc).__name__, headers={"Retry-After": "1"})

    @classmethod
    def unauthorized(cls, detail: str) -> Problem:
        return cls(401, detail=detail, headers={"WWW-Authenticate": "Bearer"})

    def body(self) -> dict[str, object]:
        return {"type": "about:blank", "title": self.title, "status": self.status,
                "detail": self.detail,
                "errors": [{"path": path, "message": message} for path, message in self.errors]}


def _phrase(status: int) -> str:
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def problem_response(p: Problem) -> Response:
    return Response(orjson.dumps(p.body()), status_code=p.status, headers=p.headers,
                    media_type=MEDIA_TYPE)


async def _on_problem(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Problem)
    return problem_response(exc)


async def _on_unavailable(request: Request, exc: Exception) -> Response:
    return problem_response(Problem.unavailable(exc))


async def _on_http(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return problem_response(Problem(exc.status_code, detail=exc.detail if exc.detail !=
                                    _phrase(exc.status_code) else "",
                                    headers=exc.headers))


def install(app: Starlette) -> None:
    """Make every Problem, unreachable store and routing error a problem+json answer."""
    app.add_exception_handler(Problem, _on_problem)
    app.add_exception_handler(ControlUnavailable, _on_unavailable)
    app.add_exception_handler(config_errors.StoreUnavailable, _on_unavailable)
    app.add_exception_handler(HTTPException, _on_http)
