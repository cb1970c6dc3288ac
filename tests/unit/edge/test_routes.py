"""One route table: both doors serve exactly its paths, matched whole, as Starlette would."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.routing import Match, Route

from tests.inprocess_edge import in_process_edge
from tests.unit.edge.test_refusals import call
from turnout.config.compiled import CompiledGraph
from turnout.edge.metrics import RouteStats
from turnout.edge.quick import QuickRoute
from turnout.edge.routes import Page, Quick, QuickPaths, starlette_app, table

PATHS = ["/c/CAMP_A", "/c/", "/c//x", "/c/a/b", "/c", "/cx", "/click", "/click/", "/click/2",
         "/click/2/3", "/clicks", "/clickx/1", "/r", "/r/", "/r/x", "/rx", "/postback",
         "/p.gif", "/api/v1/events", "/healthz", "/readyz", "/metrics", "/", ""]


def quick_route(name: str) -> QuickRoute:
    return QuickRoute(lambda scope, head: (200, [], b""), RouteStats(name), name, ("GET",))


async def endpoint(request: Any) -> Any:
    raise AssertionError("not called")


async def test_table_states_every_path_once(compiled: CompiledGraph):
    async with in_process_edge(compiled, b"s") as (app, _):
        assert app.runtime is not None
        paths = table(app.runtime, lambda: True)
    assert [entry.path for entry in paths] == [
        "/c/{code:path}", "/click", "/click/{n:path}", "/r", "/postback", "/p.gif",
        "/api/v1/events", "/healthz", "/readyz", "/metrics", "/openapi.json"]
    methods = {entry.path: entry.methods for entry in paths if isinstance(entry, Page)}
    assert methods["/api/v1/events"] == ("POST",) and "POST" not in methods["/p.gif"]


def test_quick_paths_match_as_starlette_does():
    patterns = ["/c/{code:path}", "/click", "/click/{n:path}", "/r"]
    routes = {pattern: quick_route(pattern) for pattern in patterns}
    quick = QuickPaths(Quick(pattern, route) for pattern, route in routes.items())
    for path in PATHS:
        starlette = next((routes[p] for p in patterns
                          if Route(p, endpoint).matches({"type": "http", "path": path,
                                                         "method": "GET"})[0] is Match.FULL),
                         None)
        assert quick.match(path) is starlette, path
    assert quick.match("/clicks") is None and quick.match("/click/x") is routes["/click/{n:path}"]


@pytest.mark.parametrize("patterns", [
    ["/c/{code}"], ["/x/{id:path}/y"], ["/r", "/r"], ["/c/{code:path}", "/c/x"],
    ["/c/x", "/c/{code:path}"],
])
def test_quick_paths_refuse_what_they_cannot_match_like_starlette(patterns):
    with pytest.raises(ValueError, match="quick path"):
        QuickPaths(Quick(pattern, quick_route(pattern)) for pattern in patterns)


def test_the_starlette_door_serves_the_pages_only():
    paths = (Quick("/c/{code:path}", quick_route("c")),
             Page("/healthz", ("GET", "HEAD"), endpoint), Page("/api", ("POST",), endpoint))
    app = starlette_app(paths)
    assert [(route.path, route.methods) for route in app.routes] == [
        ("/healthz", {"GET", "HEAD"}), ("/api", {"POST"})]


async def test_clicks_is_no_click_path(compiled: CompiledGraph):
    async with in_process_edge(compiled, b"s") as (app, sink):
        assert app.quick_route("/clicks") is None
        assert app.quick_route("/click") is app.quick_route("/click/3") is not None
        for path in ("/clicks", "/clickfoo", "/click.gif"):
            status, _, body = await call(app, "GET", path)
            assert (status, body) == (404, b"Not Found")
        assert (await call(app, "GET", "/click/abc"))[2] == b"no such CTA"  # the handler's
        assert sink.events == []


@pytest.mark.parametrize("path", ["/postback/", "/healthz/", "/api/v1/events/"])
async def test_a_trailing_slash_is_not_redirected_to_the_host_header(compiled: CompiledGraph,
                                                                    path: str):
    # Regression (issue #15): `/postback/` answered 307 to http://<Host header>/postback.
    async with in_process_edge(compiled, b"s") as (app, _):
        status, headers, _ = await call(app, "GET", path,
                                        headers=((b"host", b"evil.example"),))
    assert status == 404
    assert not [value for name, value in headers if name.lower() == b"location"]
