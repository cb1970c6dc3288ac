"""The edge's OpenAPI document: every route of the table, a sound 3.1 structure, and
examples that a real edge serving the example graph accepts."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from tests.inprocess_edge import ListSink, in_process_edge
from turnout.config.compiled import CompiledGraph
from turnout.edge.openapi import openapi_document, openapi_path
from turnout.edge.routes import methods_of, table
from turnout.events import TOPIC_CONVERSIONS, TOPIC_EVENTS

Edge = tuple[httpx.AsyncClient, ListSink, dict[str, Any]]
# The example click id is a fixed one: its postbacks must not age out of the window.
CENTURY_MS = 100 * 365 * 86_400_000


@pytest.fixture
async def edge(compiled: CompiledGraph) -> AsyncIterator[Edge]:
    async with in_process_edge(compiled, b"unit-secret",
                               max_attribution_ms=CENTURY_MS) as (app, sink):
        transport = httpx.ASGITransport(app=app, client=("203.0.113.9", 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://edge.test") as client:
            document = (await client.get("/openapi.json")).json()
            yield client, sink, document


def lookup(document: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = document
    for part in ref[2:].split("/"):
        assert isinstance(node, dict) and part in node, ref
        node = node[part]
    return node


def deref(document: dict[str, Any], node: Any) -> Any:
    return lookup(document, node["$ref"]) if "$ref" in node else node


def refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from refs(value)


def operation(document: dict[str, Any], path: str, method: str) -> dict[str, Any]:
    return document["paths"][path][method]


def parameters(document: dict[str, Any], op: dict[str, Any]) -> list[dict[str, Any]]:
    return [deref(document, p) for p in op.get("parameters", [])]


def request_of(document: dict[str, Any], op: dict[str, Any], example: str, where: str
               ) -> dict[str, str]:
    """The values of the parameters `in: where` that the named example gives."""
    return {p["name"]: p["examples"][example]["value"] for p in parameters(document, op)
            if p["in"] == where and example in p.get("examples", {})}


async def test_every_route_of_the_table_is_described_with_its_methods(compiled, edge):
    _, _, document = edge
    async with in_process_edge(compiled, b"s") as (app, _):
        assert app.runtime is not None
        entries = table(app.runtime, lambda: True)
    described = {path: set(item) for path, item in document["paths"].items()}
    assert described == {openapi_path(entry.path): {m.lower() for m in methods_of(entry)}
                         for entry in entries}
    assert "/c/{code}" in described and "/click/{n}" in described


def test_a_route_or_method_without_a_description_fails_the_build():
    with pytest.raises(ValueError, match="/new: a route without a description"):
        openapi_document([("/healthz", ("GET",)), ("/new", ("GET",))])
    with pytest.raises(ValueError, match="/healthz: POST has no description"):
        openapi_document([("/healthz", ("POST",))])


async def test_the_document_is_sound_openapi_3_1(edge):
    _, _, document = edge
    assert re.fullmatch(r"3\.1\.\d+", document["openapi"])
    assert document["info"]["title"] and document["info"]["version"]
    for ref in refs(document):
        lookup(document, ref)
    for path, item in document["paths"].items():
        named = set(re.findall(r"\{(\w+)\}", path))
        for method, op in item.items():
            assert method in {"get", "head", "post"}, (path, method)
            assert op["summary"] and op["responses"], (path, method)
            declared = {p["name"] for p in parameters(document, op) if p["in"] == "path"}
            assert declared == named, (path, method)
            assert all(p["required"] for p in parameters(document, op) if p["in"] == "path")
            assert all(p["in"] in {"query", "header", "path", "cookie"}
                       for p in parameters(document, op))
            for status, response in op["responses"].items():
                assert re.fullmatch(r"[1-5]\d\d", status), (path, method, status)
                assert deref(document, response)["description"], (path, method, status)
            if method == "head":
                assert all("content" not in deref(document, r)
                           for r in op["responses"].values() if "$ref" not in r)


async def test_refusals_are_described_as_the_code_answers_them(edge):
    client, _, document = edge
    events = operation(document, "/api/v1/events", "post")
    assert deref(document, events["responses"]["401"]["content"]["application/json"]["schema"]
                 )["properties"]["status"] == {"const": "rejected"}
    answer = await client.post("/api/v1/events", json={})
    assert answer.status_code == 401 and set(answer.json()) == {"status", "reason"}
    pixel = operation(document, "/p.gif", "get")
    assert set(pixel["responses"]["401"]["content"]) == {"text/plain"}
    assert (await client.get("/p.gif")).headers["content-type"].startswith("text/plain")


async def test_the_events_examples_are_accepted_by_the_edge(edge):
    client, sink, document = edge
    op = operation(document, "/api/v1/events", "post")
    bodies = op["requestBody"]["content"]["application/json"]["examples"]
    assert {"browser", "browser-event", "server-secret", "server-hmac"} <= set(bodies)
    for name, example in bodies.items():
        headers = request_of(document, op, name, "header")
        answer = await client.post("/api/v1/events", json=example["value"], headers=headers)
        assert (name, answer.status_code, answer.json()["status"]) == (name, 202, "accepted")
    conversions, events = sink.of(TOPIC_CONVERSIONS), sink.of(TOPIC_EVENTS)
    assert [(c.network_id, c.source) for c in conversions] == [
        ("", "api"), ("beta-net", "api"), ("beta-net", "api")]
    assert [(e.name, e.params) for e in events] == [("signup", {"plan": "pro"})]
    assert "canonical" in bodies["server-hmac"]["description"]


async def test_the_examples_fail_without_what_they_show(edge):
    """The accepted examples are accepted for their credentials, not by accident."""
    client, _, document = edge
    op = operation(document, "/api/v1/events", "post")
    bodies = op["requestBody"]["content"]["application/json"]["examples"]
    no_origin = await client.post("/api/v1/events", json=bodies["browser"]["value"])
    forged = {**bodies["server-hmac"]["value"], "payout": "99.00"}
    assert [no_origin.status_code, (await client.post("/api/v1/events", json=forged)
                                     ).status_code] == [403, 403]


async def test_the_pixel_examples_are_accepted_by_the_edge(edge):
    client, sink, document = edge
    op = operation(document, "/p.gif", "get")
    names = {name for p in parameters(document, op) for name in p.get("examples", {})}
    assert names == {"conversion", "event"}
    for name in sorted(names):
        answer = await client.get("/p.gif", params=request_of(document, op, name, "query"),
                                  headers=request_of(document, op, name, "header"))
        assert (name, answer.status_code, answer.headers["content-type"]) == (
            name, 200, "image/gif")
    assert [c.source for c in sink.of(TOPIC_CONVERSIONS)] == ["pixel"]
    assert [e.name for e in sink.of(TOPIC_EVENTS)] == ["signup"]


async def test_the_postback_examples_are_accepted_by_the_edge(edge):
    client, sink, document = edge
    get = operation(document, "/postback", "get")
    for name in ("secret", "signed"):
        answer = await client.get("/postback", params=request_of(document, get, name, "query"))
        assert (name, answer.status_code, answer.json()["status"]) == (name, 200, "accepted")
    post = operation(document, "/postback", "post")["requestBody"]["content"]
    for name, example in post["application/json"]["examples"].items():
        assert (await client.post("/postback", json=example["value"])).status_code == 200
        assert (await client.post("/postback", data=example["value"])).status_code == 200, name
    assert {c.network_id for c in sink.of(TOPIC_CONVERSIONS)} == {"beta-net"}
    assert len(sink.of(TOPIC_CONVERSIONS)) == 6


async def test_openapi_json_is_served(edge):
    client, _, document = edge
    answer = await client.get("/openapi.json")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/json"
    assert answer.json() == document and "/openapi.json" in document["paths"]
    assert (await client.head("/openapi.json")).status_code == 200
