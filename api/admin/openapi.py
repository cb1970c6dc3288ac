"""The admin routes in the app's OpenAPI 3.1 document, generated from the route table:
request and response schemas from the same msgspec Structs that validate the bodies."""

from __future__ import annotations

import re
from typing import Any, Final

import msgspec

from turnout.api.admin.routes import AdminRoute

_CONVERTOR: Final = re.compile(r"\{(\w+)(?::\w+)?\}")
_REF: Final = "#/components/schemas/{name}"


def _problem(description: str) -> dict[str, Any]:
    return {"description": description, "content": {
        "application/problem+json": {"schema": {"$ref": _REF.format(name="Problem")}}}}


PROBLEM_SCHEMA: Final = {
    "type": "object", "required": ["type", "title", "status"],
    "description": "RFC 9457 problem details; `errors` names each bad field by its path",
    "properties": {
        "type": {"type": "string"}, "title": {"type": "string"},
        "status": {"type": "integer"}, "detail": {"type": "string"},
        "errors": {"type": "array", "items": {
            "type": "object", "required": ["path", "message"],
            "properties": {"path": {"type": "string"}, "message": {"type": "string"}}}}}}


def _auth_responses(route: AdminRoute) -> dict[str, Any]:
    return {"401": _problem("No key, or a malformed, unknown, expired or revoked one"),
            "429": _problem("Over the key's rate limit (see Retry-After)")}


def _operation(route: AdminRoute, schemas: dict[type, Any], path: str) -> dict[str, Any]:
    responses: dict[str, Any] = {
        **_auth_responses(route),
        "400": _problem("A malformed parameter, header or body"),
        "403": _problem(f"The key's role is below {route.min_role}"),
        "503": _problem("PostgreSQL is out of reach"),
    }
    ok: dict[str, Any] = {"description": "Created" if route.status == 201 else "OK"}
    if route.response is not None:
        ok["content"] = {"application/json": {"schema": schemas[route.response]}}
    responses[str(route.status)] = ok
    parameters = [{"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
                  for name in _CONVERTOR.findall(route.path)]
    operation: dict[str, Any] = {
        "summary": route.summary, "security": [{"bearer": []}],
        "x-min-role": route.min_role, "responses": responses, "parameters": parameters,
    }
    if route.body is not None:
        operation["requestBody"] = {"required": True, "content": {
            "application/json": {"schema": schemas[route.body]}}}
        responses["413"] = _problem("The body is too large")
    if route.method != "GET":
        responses["409"] = _problem("Refused by the workspace's state (in use, a transition "
                                    "its status does not allow, the last owner key)")
        responses["422"] = _problem("The body does not match its schema, or the change "
                                    "would make the graph invalid (problems by path)")
    if route.if_match:
        parameters.append({"name": "If-Match", "in": "header", "required": True,
                           "description": "The revision the write is based on (the ETag "
                                          "of a read)",
                           "schema": {"type": "string"}})
        responses["412"] = _problem("The revision changed since it was read")
        responses["428"] = _problem("No If-Match")
    if "{" in path:
        responses["404"] = _problem("No such id in the key's workspace")
    if route.names_in_body:
        responses["404"] = _problem("What the path or the body names is not in the key's "
                                    "workspace")
    return operation


def merge_admin(document: dict[str, Any], table: list[AdminRoute]) -> dict[str, Any]:
    """`document` with every route of `table` it does not describe yet, and the schemas of
    their bodies and answers."""
    types = sorted({t for r in table for t in (r.body, r.response) if t is not None},
                   key=lambda t: t.__name__)
    refs, components = msgspec.json.schema_components(types, ref_template=_REF)
    schemas = dict(zip(types, refs, strict=True))
    paths = document.setdefault("paths", {})
    for route in table:
        path = _CONVERTOR.sub(r"{\1}", route.path)
        described = paths.get(path, {}).get(route.method.lower())
        if described is not None:  # the report routes: their own document, our auth
            described["x-min-role"] = route.min_role
            described["responses"].update(_auth_responses(route))
            continue
        paths.setdefault(path, {})[route.method.lower()] = _operation(route, schemas, path)
    found = document.setdefault("components", {}).setdefault("schemas", {})
    found.update(components)
    found["Problem"] = PROBLEM_SCHEMA
    document["info"]["title"] = "turnout API"
    document["info"]["description"] = ("The control plane (admin API, SPEC §10) and the "
                                       "reports: clicks, conversions, revenue, cost and ROI.")
    return document
