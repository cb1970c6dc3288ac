"""The campaign lifecycle over HTTP: POST /api/v1/campaigns/{id}/{activate,pause,resume,
complete,cancel,duplicate}, POST /api/v1/campaigns/bulk/{activate,pause,delete} (an answer
per id) and GET /api/v1/campaigns/{id}/children. The transitions are control/lifecycle.py's.
"""

from __future__ import annotations

import time
from typing import Annotated, Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from turnout.api.admin import listing
from turnout.api.admin.bodies import json_response
from turnout.api.admin.entity_bodies import KINDS
from turnout.api.admin.routes import AdminRoute
from turnout.api.admin.state import connection
from turnout.api.admin.writes import (
    REFUSALS,
    actor_of,
    entity_response,
    if_match,
    problem_of,
    publish,
    read,
    write,
)
from turnout.api.problems import Problem
from turnout.config.errors import Problem as FieldProblem
from turnout.control import entities
from turnout.control.entity_docs import read_one
from turnout.control.entity_list import MAX_LIMIT, list_page
from turnout.control.lifecycle import ACTIONS

Slug = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_-]{1,64}$")]


class CancelBody(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    reason: Annotated[str, msgspec.Meta(min_length=1, max_length=1000)]
    """Why it is cancelled: kept in the audit log and the published version's note."""


class DuplicateBody(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    id: Slug | None = None
    """The copy's id; default `<id>-copy` (then -copy-2, …)."""
    code: Slug | None = None
    """The copy's tracking code; default a generated one."""
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=500)] | None = None
    """Default: the name with " (copy)"."""


class BulkBody(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    ids: Annotated[list[Slug], msgspec.Meta(min_length=1, max_length=MAX_LIMIT)]
    revisions: dict[str, int] = {}
    """Optional If-Match per id: an id whose revision differs is answered 412 and left
    as it is; ids without one are changed from whatever revision they are at."""


class BulkResult(msgspec.Struct, kw_only=True, omit_defaults=True):
    id: str
    status: int
    """The HTTP status the single-id call would have answered (200, 404, 409, 412)."""
    outcome: str | None = None
    """activate/pause: the campaign's status after; delete: deleted or archived."""
    revision: int | None = None
    error: str | None = None


class BulkAnswer(msgspec.Struct, kw_only=True):
    results: list[BulkResult]


def _id(request: Request) -> str:
    return str(request.path_params["id"])


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _action(action: str) -> Any:
    async def endpoint(request: Request) -> Response:
        revision = if_match(request)
        written = await write(request, lambda conn, who: entities.act(
            conn, who, _id(request), action, revision, now_ms=_now_ms()))
        assert written.stored is not None
        return entity_response(written.stored)

    endpoint.__name__ = f"{action}_campaign"
    return endpoint


async def cancel_campaign(request: Request, body: CancelBody) -> Response:
    revision = if_match(request)
    written = await write(request, lambda conn, who: entities.act(
        conn, who, _id(request), "cancel", revision, now_ms=_now_ms(), reason=body.reason))
    assert written.stored is not None
    return entity_response(written.stored)


async def duplicate_campaign(request: Request, body: DuplicateBody) -> Response:
    written = await write(request, lambda conn, who: entities.duplicate(
        conn, who, _id(request), new_id=body.id, code=body.code, name=body.name))
    assert written.stored is not None
    return entity_response(written.stored, status=201)


async def campaign_children(request: Request) -> Response:
    query = listing.list_query("campaigns", request.query_params, parent=_id(request))
    who = actor_of(request)

    async def children(conn: Any) -> Any:
        await read_one(conn, who.workspace_id, "campaigns", _id(request))  # 404 if none
        return await list_page(conn, who.workspace_id, "campaigns", query)

    return listing.page_response(query, await read(request, children))


def _bulk(action: str) -> Any:
    async def endpoint(request: Request, body: BulkBody) -> Response:
        found = [FieldProblem(f"revisions.{i}", "not one of ids")
                 for i in sorted(set(body.revisions) - set(body.ids))]
        if len(set(body.ids)) != len(body.ids):
            found.append(FieldProblem("ids", "name each campaign once"))
        if found:
            raise Problem.invalid(found)
        who = actor_of(request)
        results, written = [], []
        async with connection(request) as conn:
            for campaign_id in body.ids:
                try:
                    expected = body.revisions.get(campaign_id)
                    if expected is None:
                        expected = (await read_one(conn, who.workspace_id, "campaigns",
                                                   campaign_id)).revision
                    if action == "delete":
                        done = await entities.delete(conn, who, "campaigns", campaign_id,
                                                     expected)
                        outcome = "archived" if done.action == "archive" else "deleted"
                    else:
                        done = await entities.act(conn, who, campaign_id, action, expected,
                                                  now_ms=_now_ms())
                        outcome = done.stored.entity.status if done.stored else None
                except REFUSALS as exc:
                    problem = problem_of(exc)
                    results.append(BulkResult(id=campaign_id, status=problem.status,
                                              error=problem.detail))
                    continue
                written.append(done)
                results.append(BulkResult(id=campaign_id, status=200, outcome=outcome,
                                          revision=done.revision))
        publish(request, who, written)
        return json_response(BulkAnswer(results=results))

    endpoint.__name__ = f"bulk_{action}_campaigns"
    return endpoint


_CAMPAIGN = KINDS["campaigns"]
ROUTES: list[AdminRoute] = [
    # Before /campaigns/{id}/…: "bulk" is a reserved campaign id (control/entities.py).
    *(AdminRoute("POST", f"/api/v1/campaigns/bulk/{action}", _bulk(action), "editor",
                 f"{action.capitalize()} several campaigns, an answer per id",
                 body=BulkBody, response=BulkAnswer)
      for action in ("activate", "pause", "delete")),
    *(AdminRoute("POST", f"/api/v1/campaigns/{{id}}/{action}", _action(action), "editor",
                 f"{action.capitalize()} a campaign (If-Match)", response=_CAMPAIGN.read,
                 if_match=True)
      for action in ACTIONS if action != "cancel"),
    AdminRoute("POST", "/api/v1/campaigns/{id}/cancel", cancel_campaign, "editor",
               "Cancel a campaign, with a reason (If-Match)", body=CancelBody,
               response=_CAMPAIGN.read, if_match=True),
    AdminRoute("POST", "/api/v1/campaigns/{id}/duplicate", duplicate_campaign, "editor",
               "Copy a campaign as a new draft", body=DuplicateBody, response=_CAMPAIGN.read,
               status=201),
    AdminRoute("GET", "/api/v1/campaigns/{id}/children", campaign_children, "viewer",
               "The campaigns whose parent it is", response=_CAMPAIGN.page),
]
