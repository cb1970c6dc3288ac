"""GET|POST /api/v1/<kind> and GET|PUT|PATCH|DELETE /api/v1/<kind>/{id} for every entity
kind: traffic-sources, networks, offers, landers, funnels, campaigns.

Bodies are the YAML shape of the entity (api/admin/entity_bodies.py); a read carries its
`revision` (and ETag); a write needs If-Match. The rules are control/entities.py's: these
handlers parse, call and answer.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import msgspec
import orjson
from starlette.requests import Request
from starlette.responses import Response

from turnout.api.admin import listing
from turnout.api.admin.bodies import json_response
from turnout.api.admin.entity_bodies import KINDS, Deleted, Kind, check_revision, entity_of
from turnout.api.admin.routes import AdminRoute
from turnout.api.admin.writes import (
    actor_of,
    entity_response,
    hides_secrets,
    if_match,
    problem_of,
    read,
    write,
)
from turnout.config.errors import GraphInvalid
from turnout.control import audit, entities
from turnout.control.entity_docs import read_one
from turnout.control.entity_list import list_page


def _id(request: Request) -> str:
    return str(request.path_params["id"])


def _routes(kind: Kind) -> list[AdminRoute]:
    section = kind.section

    async def list_entities(request: Request) -> Response:
        query = listing.list_query(section, request.query_params)
        who = actor_of(request)
        page = await read(request, lambda conn: list_page(conn, who.workspace_id, section,
                                                          query))
        if section == "networks" and hides_secrets(request):
            page = dataclasses.replace(page, items=orjson.dumps(audit.mask(
                orjson.loads(page.items))))
        return listing.page_response(query, page)

    async def show(request: Request) -> Response:
        who = actor_of(request)
        stored = await read(request, lambda conn: read_one(conn, who.workspace_id, section,
                                                           _id(request)))
        return entity_response(stored, masked=section == "networks" and hides_secrets(request))

    async def create(request: Request, body: Any) -> Response:
        entity = _entity(request, body, None)
        written = await write(request, lambda conn, who: entities.create(conn, who, entity))
        assert written.stored is not None
        return entity_response(written.stored, status=201)

    async def replace(request: Request, body: Any) -> Response:
        revision = if_match(request)
        entity = _entity(request, body, revision)
        written = await write(request, lambda conn, who: entities.replace(
            conn, who, section, _id(request), entity, revision))
        assert written.stored is not None
        return entity_response(written.stored)

    async def patch(request: Request, body: Any) -> Response:
        revision = if_match(request)
        changes = msgspec.to_builtins(body)
        try:
            check_revision(changes.pop("revision", None), revision)
        except GraphInvalid as exc:
            raise problem_of(exc) from None
        written = await write(request, lambda conn, who: entities.patch(
            conn, who, section, _id(request), changes, revision))
        assert written.stored is not None
        return entity_response(written.stored)

    async def delete(request: Request) -> Response:
        revision = if_match(request)
        written = await write(request, lambda conn, who: entities.delete(
            conn, who, section, _id(request), revision))
        outcome = "archived" if written.action == "archive" else "deleted"
        return json_response(Deleted(id=written.entity_id, outcome=outcome))

    def _entity(request: Request, body: Any, revision: int | None) -> Any:
        try:
            return entity_of(section, body, actor_of(request).workspace_id, revision)
        except GraphInvalid as exc:
            raise problem_of(exc) from None

    for endpoint, name in ((list_entities, "list"), (show, "show"), (create, "create"),
                           (replace, "replace"), (patch, "patch"), (delete, "delete")):
        endpoint.__name__ = f"{name}_{section}"
    base, one = f"/api/v1/{kind.segment}", f"/api/v1/{kind.segment}/{{id}}"
    return [
        AdminRoute("GET", base, list_entities, "viewer",
                   f"List the workspace's {kind.segment} (filter, sort, cursor)",
                   response=kind.page),
        AdminRoute("POST", base, create, "editor", f"Create a {kind.singular}",
                   body=kind.body, response=kind.read, status=201),
        AdminRoute("GET", one, show, "viewer", f"One {kind.singular} and its revision",
                   response=kind.read),
        AdminRoute("PUT", one, replace, "editor",
                   f"Replace a {kind.singular} (If-Match: its revision)",
                   body=kind.body, response=kind.read, if_match=True),
        AdminRoute("PATCH", one, patch, "editor",
                   f"Change a {kind.singular} by a JSON merge patch (If-Match)",
                   body=kind.patch, response=kind.read, if_match=True),
        AdminRoute("DELETE", one, delete, "editor",
                   f"Delete a {kind.singular} (If-Match)", response=Deleted, if_match=True),
    ]


ROUTES: list[AdminRoute] = [route for kind in KINDS.values() for route in _routes(kind)]
