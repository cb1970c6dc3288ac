"""GET /api/v1/audit: who changed what, before and after, when, under which request id.

Viewer keys and up read the workspace's log (secrets masked by control/audit.py); the
rows about API keys only admin keys and up, as only they may list keys.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Final

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from turnout.api.admin.bodies import json_response
from turnout.api.admin.principal import at_least, principal_of
from turnout.api.admin.routes import AdminRoute
from turnout.api.admin.state import connection
from turnout.api.problems import Problem
from turnout.control import audit

PARAMETERS: Final = frozenset({"entity_kind", "entity_id", "since", "until", "cursor",
                               "limit"})
DEFAULT_LIMIT: Final = 100


class AuditPage(msgspec.Struct, kw_only=True):
    items: list[audit.AuditEntry]
    next_cursor: str | None
    """Pass as `cursor` for the next (older) page; null on the last one."""


def _time(name: str, value: str | None) -> dt.datetime | None:
    if value is None:
        return None
    try:
        at = dt.datetime.fromisoformat(value)
    except ValueError:
        at = None
    if at is None or at.tzinfo is None:
        raise Problem(400, detail=f"{name}: an ISO 8601 time with its offset",
                      errors=[(f"query.{name}", "expected e.g. 2025-01-31T12:00:00Z")])
    return at


def query_integer(name: str, value: str | None, low: int, high: int) -> int | None:
    """A query parameter's integer in low..high (None when absent); else 400 at its path."""
    if value is None:
        return None
    if not value.isdigit() or not low <= int(value) <= high:
        raise Problem(400, detail=f"{name}: an integer from {low} to {high}",
                      errors=[(f"query.{name}", f"expected an integer {low}..{high}")])
    return int(value)


def refuse_unknown(params: Mapping[str, str], known: frozenset[str]) -> None:
    """400 naming every query parameter not in `known`."""
    unknown = sorted(set(params) - known)
    if unknown:
        raise Problem(400, detail=f"unknown parameter(s): {', '.join(unknown)}",
                      errors=[(f"query.{name}", "unknown parameter") for name in unknown])


async def list_audit(request: Request) -> Response:
    principal = principal_of(request)
    params = request.query_params
    refuse_unknown(params, PARAMETERS)
    kind = params.get("entity_kind")
    if kind == "key" and not at_least(principal, "admin"):
        raise Problem(403, detail="the audit rows of API keys need an admin key")
    limit = query_integer("limit", params.get("limit"), 1, audit.MAX_PAGE) or DEFAULT_LIMIT
    async with connection(request) as conn:
        rows = await audit.entries(
            conn, principal.workspace_id, entity_kind=kind, entity_id=params.get("entity_id"),
            since=_time("since", params.get("since")), until=_time("until", params.get("until")),
            before_id=query_integer("cursor", params.get("cursor"), 1, 2**63 - 1), limit=limit,
            without_kinds=() if at_least(principal, "admin") else ("key",))
    cursor = str(rows[-1].id) if len(rows) == limit else None
    return json_response(AuditPage(items=rows, next_cursor=cursor))


ROUTES: list[AdminRoute] = [
    AdminRoute("GET", "/api/v1/audit", list_audit, "viewer",
               "The workspace's audit log, newest first (filter: entity_kind, entity_id, "
               "since, until; page: cursor, limit)", response=AuditPage),
]
