"""GET|POST /api/v1/keys, GET|DELETE /api/v1/keys/{id}: a workspace's API keys (admin and
up; only owners create or revoke admin and owner keys). A key's token is in the answer
to its creation and nowhere else, ever."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from turnout.api.admin.auth import request_id_of
from turnout.api.admin.bodies import json_response
from turnout.api.admin.principal import principal_of
from turnout.api.admin.routes import AdminRoute
from turnout.api.admin.state import admin_state, connection
from turnout.api.problems import Problem
from turnout.control import keys


class KeyCreate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    role: keys.Role
    name: Annotated[str, msgspec.Meta(max_length=200)] = ""
    expires_at: Annotated[dt.datetime, msgspec.Meta(tz=True)] | None = None
    rate_per_minute: Annotated[int, msgspec.Meta(gt=0, le=1_000_000)] | None = None


class KeyCreated(msgspec.Struct, kw_only=True):
    key: keys.Key
    token: str
    """The key itself: shown this once, stored only as a hash."""


class KeyList(msgspec.Struct, kw_only=True):
    items: list[keys.Key]


class Self(msgspec.Struct, kw_only=True):
    """The key a request was made with, as the dashboard and the CLI need to know it."""

    key_id: str
    workspace: str
    role: str


def _problem(exc: keys.KeyRefused) -> Problem:
    if isinstance(exc, keys.KeyNotFound):
        return Problem(404, detail=str(exc))
    if isinstance(exc, keys.RoleNotGranted):
        return Problem(403, detail=str(exc))
    return Problem(409, detail=str(exc))


async def list_keys(request: Request) -> Response:
    principal = principal_of(request)
    async with connection(request) as conn:
        found = await keys.list_keys(conn, principal.workspace_id)
    return json_response(KeyList(items=found))


async def whoami(request: Request) -> Response:
    principal = principal_of(request)
    return json_response(Self(key_id=principal.key_id, workspace=principal.workspace_id,
                              role=principal.role), headers={"Cache-Control": "no-store"})


async def show_key(request: Request) -> Response:
    principal = principal_of(request)
    async with connection(request) as conn:
        stored = await keys.find(conn, request.path_params["id"])
    if stored is None or stored.key.workspace_id != principal.workspace_id:
        raise Problem(404, detail="no such key in this workspace")
    return json_response(stored.key)


async def create_key(request: Request, body: KeyCreate) -> Response:
    principal = principal_of(request)
    if body.expires_at is not None and body.expires_at <= dt.datetime.now(dt.UTC):
        raise Problem(422, detail="the key would be expired already",
                      errors=[("expires_at", "must be in the future")])
    try:
        async with connection(request) as conn:
            key, token = await keys.create(
                conn, workspace_id=principal.workspace_id, role=body.role, name=body.name,
                expires_at=body.expires_at, rate_per_minute=body.rate_per_minute,
                actor=principal.key_id, actor_role=principal.role,
                request_id=request_id_of(request))
    except keys.KeyRefused as exc:
        raise _problem(exc) from None
    return json_response(KeyCreated(key=key, token=token), status=201,
                         headers={"Cache-Control": "no-store"})


async def revoke_key(request: Request) -> Response:
    principal = principal_of(request)
    key_id = request.path_params["id"]
    try:
        async with connection(request) as conn:
            key = await keys.revoke(conn, workspace_id=principal.workspace_id, key_id=key_id,
                                    actor=principal.key_id, actor_role=principal.role,
                                    request_id=request_id_of(request))
    except keys.KeyRefused as exc:
        raise _problem(exc) from None
    admin_state(request).keys.forget(key_id)
    return json_response(key)


ROUTES: list[AdminRoute] = [
    AdminRoute("GET", "/api/v1/whoami", whoami, "viewer",
               "The key this request is made with: its id, workspace and role", response=Self),
    AdminRoute("GET", "/api/v1/keys", list_keys, "admin", "The workspace's API keys",
               response=KeyList),
    AdminRoute("POST", "/api/v1/keys", create_key, "admin",
               "Create a key (its token is shown once)", body=KeyCreate, response=KeyCreated,
               status=201),
    AdminRoute("GET", "/api/v1/keys/{id}", show_key, "admin", "One API key", response=keys.Key),
    AdminRoute("DELETE", "/api/v1/keys/{id}", revoke_key, "admin",
               "Revoke a key (at once in this process, within TURNOUT_API_KEY_CACHE_S in "
               "others)", response=keys.Key),
]
