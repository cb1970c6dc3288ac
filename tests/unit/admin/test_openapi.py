"""The admin routes in /openapi.json: every route of the table, its role, its schemas."""

from __future__ import annotations

import re

from turnout.api.admin.openapi import merge_admin
from turnout.api.admin.routes import table
from turnout.api.openapi import openapi_document


def refs(value: object) -> list[str]:
    if isinstance(value, dict):
        found = [value["$ref"]] if isinstance(value.get("$ref"), str) else []
        return found + [r for v in value.values() for r in refs(v)]
    if isinstance(value, list):
        return [r for v in value for r in refs(v)]
    return []


def operations(doc: dict, routes: list) -> list[tuple[object, dict]]:
    """Each route with the operation the document gives its method and path."""
    return [(route, doc["paths"][re.sub(r"\{(\w+)(?::\w+)?\}", r"{\1}", route.path)]
             [route.method.lower()]) for route in routes]


def test_every_route_is_described_with_its_role():
    routes = table()
    doc = merge_admin(openapi_document(), routes)
    for route, operation in operations(doc, routes):
        assert operation["x-min-role"] == route.min_role
        assert "401" in operation["responses"] and "429" in operation["responses"]
        if route.body is not None:
            schema = operation["requestBody"]["content"]["application/json"]["schema"]
            name = schema["$ref"].rsplit("/", 1)[1]
            assert name == route.body.__name__
            assert doc["components"]["schemas"][name]["additionalProperties"] is False
    schemas = doc["components"]["schemas"]
    assert all(ref.rsplit("/", 1)[1] in schemas for ref in refs(doc))


def test_the_key_body_is_the_validating_struct():
    doc = merge_admin(openapi_document(), table())
    create = doc["components"]["schemas"]["KeyCreate"]
    assert create["required"] == ["role"]
    assert sorted(create["properties"]["role"]["enum"]) == ["admin", "editor", "owner", "viewer"]
    assert create["properties"]["rate_per_minute"]["anyOf"][0]["exclusiveMinimum"] == 0


def test_each_route_states_its_success_and_its_preconditions():
    # schemathesis findings (issue #15): creates answered an undocumented 201, conditional
    # writes an undocumented 428 (no If-Match), from-template an undocumented 404.
    routes = table()
    doc = merge_admin(openapi_document(), routes)
    for route, operation in operations(doc, routes):
        assert str(route.status) in operation["responses"], route.path
        headers = [p["name"] for p in operation["parameters"] if p["in"] == "header"]
        assert (headers == ["If-Match"]) == route.if_match, route.path
        assert ({"412", "428"} <= set(operation["responses"])) == route.if_match, route.path
    created = {(r.method, r.path) for r in routes if r.status == 201}
    assert ("POST", "/api/v1/keys") in created and ("POST", "/api/v1/campaigns") in created
    template = doc["paths"]["/api/v1/campaigns/from-template"]["post"]
    assert "404" in template["responses"]
