"""/api/v1/webhooks[/{id}]: a workspace's webhook endpoints (admin keys and up: they say
where the workspace's events go). The signing secret is in the answer to POST and nowhere
else; every other answer, the audit log and the logs leave it out."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from turnout.api.admin.bodies import json_response
from turnout.api.admin.entity_bodies import Deleted
from turnout.api.admin.routes import AdminRoute
from turnout.api.admin.writes import actor_of, if_match, read
from turnout.control import webhook_endpoints
from turnout.control.webhook_endpoints import (
    Endpoint,
    EndpointCreated,
    EndpointFields,
    EndpointList,
)


def _id(request: Request) -> str:
    return str(request.path_params["id"])


def _answer(endpoint: Endpoint) -> Response:
    return json_response(endpoint, headers={"ETag": f'"{endpoint.revision}"'})


async def list_endpoints(request: Request) -> Response:
    who = actor_of(request)
    found = await read(request, lambda conn: webhook_endpoints.list_endpoints(
        conn, who.workspace_id))
    return json_response(EndpointList(items=found))


async def show_endpoint(request: Request) -> Response:
    who = actor_of(request)
    return _answer(await read(request, lambda conn: webhook_endpoints.read(
        conn, who.workspace_id, _id(request))))


async def create_endpoint(request: Request, body: EndpointFields) -> Response:
    who = actor_of(request)
    endpoint, secret = await read(request, lambda conn: webhook_endpoints.create(
        conn, who, body))
    return json_response(EndpointCreated(endpoint=endpoint, secret=secret), status=201,
                         headers={"Cache-Control": "no-store",
                                  "ETag": f'"{endpoint.revision}"'})


async def replace_endpoint(request: Request, body: EndpointFields) -> Response:
    who, revision = actor_of(request), if_match(request)
    return _answer(await read(request, lambda conn: webhook_endpoints.replace(
        conn, who, _id(request), body, revision)))


async def delete_endpoint(request: Request) -> Response:
    who, revision = actor_of(request), if_match(request)
    await read(request, lambda conn: webhook_endpoints.delete(conn, who, _id(request),
                                                              revision))
    return json_response(Deleted(id=_id(request), outcome="deleted"))


_BASE, _ONE = "/api/v1/webhooks", "/api/v1/webhooks/{id}"
ROUTES: list[AdminRoute] = [
    AdminRoute("GET", _BASE, list_endpoints, "admin", "The workspace's webhook endpoints",
               response=EndpointList),
    AdminRoute("POST", _BASE, create_endpoint, "admin",
               "Create a webhook endpoint (its secret is answered once)",
               body=EndpointFields, response=EndpointCreated, status=201),
    AdminRoute("GET", _ONE, show_endpoint, "admin", "One webhook endpoint (no secret)",
               response=Endpoint),
    AdminRoute("PUT", _ONE, replace_endpoint, "admin",
               "Replace a webhook endpoint; a `secret` rotates it (If-Match)",
               body=EndpointFields, response=Endpoint, if_match=True),
    AdminRoute("DELETE", _ONE, delete_endpoint, "admin",
               "Delete a webhook endpoint and its pending deliveries (If-Match)",
               response=Deleted, if_match=True),
]
