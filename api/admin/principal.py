"""Who is asking: the key behind a request, its workspace and its role."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request

from turnout.api.problems import Problem
from turnout.roles import ROLES, rank

__all__ = ["ROLES", "Principal", "at_least", "principal_of", "rank"]


@dataclass(frozen=True, slots=True)
class Principal:
    key_id: str
    workspace_id: str
    role: str
    rate_per_minute: int | None
    """Requests per minute this key may make; None: the API's default."""


def at_least(p: Principal, role: str) -> bool:
    return rank(p.role) >= rank(role)


def principal_of(request: Request) -> Principal:
    """The principal the auth middleware set; 401 when there is none (no middleware ran,
    so the request was never authenticated)."""
    principal = request.scope.get("state", {}).get("principal")
    if not isinstance(principal, Principal):
        raise Problem.unauthorized("this route needs an API key")
    return principal
