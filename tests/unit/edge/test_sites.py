"""/c/{code} resolved within the request's Host, and cookies kept on the tracking domain."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx
import msgspec
import pytest

from tests.inprocess_edge import ListSink, in_process_edge
from tests.two_domains import CODE, two_domain_graph
from turnout.config.compile import compile_graph
from turnout.config.compiled import CompiledGraph
from turnout.config.model import Graph
from turnout.edge.graph import snapshot_of
from turnout.edge.redirect import ClickHandler
from turnout.edge.sites import SiteMap, cookie_suffix, within
from turnout.events import TOPIC_CLICKS

UA = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
      "Chrome/124.0.0.0 Safari/537.36")
SHOPS = {"a": "shop.a.example", "b": "shop.b.example", "c": "shop.c.example"}


def _without(graph: Graph, *campaign_ids: str) -> CompiledGraph:
    return compile_graph(msgspec.structs.replace(graph, campaigns=tuple(
        c for c in graph.campaigns if c.id not in campaign_ids)), 1)


async def _edge(graph: CompiledGraph, **settings: Any
                ) -> AsyncIterator[tuple[httpx.AsyncClient, ListSink]]:
    trusted = settings.pop("trusted", ("127.0.0.1/32",))
    async with in_process_edge(graph, b"unit-secret", trusted, **settings) as (app, sink):
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://edge.test") as client:
            yield client, sink


@pytest.fixture
async def edge() -> AsyncIterator[tuple[httpx.AsyncClient, ListSink]]:
    async for pair in _edge(compile_graph(two_domain_graph(), 1), default_workspace="c"):
        yield pair


async def _click(client: httpx.AsyncClient, host: str | None, path: str = f"/c/{CODE}",
                 **headers: str) -> httpx.Response:
    client.cookies.clear()
    sent = {"user-agent": UA, "x-forwarded-for": "214.78.0.1", **headers}
    if host is not None:
        sent["host"] = host
    return await client.get(path, headers=sent)


def _shop(response: httpx.Response) -> str:
    assert response.status_code == 302, response.text
    return httpx.URL(response.headers["location"]).host


async def test_the_same_code_routes_by_host(edge) -> None:
    client, sink = edge
    for host, workspace in (("track.a.example", "a"), ("track.b.example", "b"),
                            ("edge.test", "c")):
        assert _shop(await _click(client, host)) == SHOPS[workspace]
        click = sink.of(TOPIC_CLICKS)[-1]
        assert (click.workspace_id, click.campaign_id) == (workspace, f"summer-{workspace}")


async def test_host_with_a_port_and_in_upper_case(edge) -> None:
    client, _ = edge
    assert _shop(await _click(client, "TRACK.A.EXAMPLE:8443")) == SHOPS["a"]
    assert _shop(await _click(client, "Track.B.Example.:80")) == SHOPS["b"]


async def test_an_unknown_host_serves_the_default_domains_codes(edge) -> None:
    client, sink = edge
    for host in ("other.example", "127.0.0.1:8080", "[::1]:8080", "", None):
        assert _shop(await _click(client, host)) == SHOPS["c"], host
    # Unknown codes there go to the edge's default workspace's fallback.
    response = await _click(client, "other.example", "/c/NOPE")
    assert response.headers["location"] == "https://www.c.example/nothing-here"
    assert {click.workspace_id for click in sink.of(TOPIC_CLICKS)} == {"c"}


async def test_a_code_is_not_reachable_through_another_workspaces_domain() -> None:
    # Only workspace a still has SUMMER: b's domain and the default domain do not serve it.
    graph = _without(two_domain_graph(), "summer-b", "summer-c")
    async for client, sink in _edge(graph, default_workspace="c"):
        assert _shop(await _click(client, "track.a.example")) == SHOPS["a"]
        on_b = await _click(client, "track.b.example")
        assert on_b.headers["location"] == "https://www.b.example/nothing-here"
        on_default = await _click(client, "edge.test")
        assert on_default.headers["location"] == "https://www.c.example/nothing-here"
        assert [click.workspace_id for click in sink.of(TOPIC_CLICKS)] == ["a"]


async def test_a_claimed_domain_never_falls_back_to_the_default_domains_codes() -> None:
    graph = _without(two_domain_graph(), "summer-a")
    async for client, _ in _edge(graph):
        response = await _click(client, "track.a.example")
        assert response.headers["location"] == "https://www.a.example/nothing-here"
        # Three workspaces and no default one: unknown codes elsewhere are a 404.
        assert (await _click(client, "edge.test", "/c/NOPE")).status_code == 404


async def test_x_forwarded_host_counts_from_trusted_proxies_only() -> None:
    graph = compile_graph(two_domain_graph(), 1)
    async for client, _ in _edge(graph):  # the peer, 127.0.0.1, is a trusted proxy
        response = await _click(client, "edge.internal",
                                **{"x-forwarded-host": "spoofed.example, Track.B.example"})
        assert _shop(response) == SHOPS["b"]
    async for client, _ in _edge(graph, trusted=()):
        response = await _click(client, "track.a.example",
                                **{"x-forwarded-host": "track.b.example"})
        assert _shop(response) == SHOPS["a"]


def _cookies(response: httpx.Response) -> dict[str, str]:
    """Set-Cookie name -> its attributes after the value."""
    found = {}
    for line in response.headers.get_list("set-cookie"):
        name, _, rest = line.partition("=")
        found[name] = rest.partition(";")[2]
    return found


async def test_cookies_stay_on_the_tracking_domain() -> None:
    graph = compile_graph(two_domain_graph(), 1)
    async for client, _ in _edge(graph, cookie_domain="edge.test"):
        on_a = _cookies(await _click(client, "track.a.example", "/c/VIA_LANDER"))
        assert set(on_a) == {"tv", "tu", "tc"}
        assert all("Domain=" not in attributes for attributes in on_a.values()), on_a
        shared = _cookies(await _click(client, "lp.edge.test", "/c/VIA_LANDER"))
        assert all(attributes.endswith("; Domain=edge.test") for attributes in shared.values())
        elsewhere = _cookies(await _click(client, "other.example", "/c/VIA_LANDER"))
        assert all("Domain=" not in attributes for attributes in elsewhere.values())


async def test_a_cookie_domain_over_a_workspaces_domain_is_not_used(caplog) -> None:
    graph = compile_graph(two_domain_graph(), 1)
    with caplog.at_level(logging.WARNING, "turnout.edge.sites"):
        async for client, _ in _edge(graph, cookie_domain=".example"):
            for host in ("track.a.example", "lp.c.example"):
                cookies = _cookies(await _click(client, host, "/c/VIA_LANDER"))
                assert cookies and all("Domain=" not in a for a in cookies.values()), cookies
    assert "covers the tracking domains track.a.example, track.b.example" in caplog.text


async def test_a_lander_click_continues_on_the_tracking_domain(edge) -> None:
    client, sink = edge
    landed = await _click(client, "track.a.example", "/c/VIA_LANDER")
    assert httpx.URL(landed.headers["location"]).host == "lp.a.example"
    context = landed.cookies["tc"]
    response = await client.get("/click", headers={"host": "track.a.example", "user-agent": UA,
                                                   "cookie": f"tc={context}"})
    assert _shop(response) == SHOPS["a"]
    assert sink.of(TOPIC_CLICKS)[-1].kind == "lp_click"
    # Without a click to continue, each domain's own fallback answers.
    client.cookies.clear()
    for host, workspace in (("track.b.example", "b"), ("edge.test", "c")):
        refused = await client.get("/click", headers={"host": host, "user-agent": UA})
        assert refused.headers["location"] == f"https://www.{workspace}.example/nothing-here"


def test_the_site_map_look_up() -> None:
    snapshot = snapshot_of(compile_graph(two_domain_graph(), 1), "c")
    sites = SiteMap(snapshot, "Edge.Test", secure=True)
    a, default = sites.site("track.a.example"), sites.site("else.example")
    assert (a.domain, a.fallback and a.fallback.id, a.codes[CODE].id) == (
        "track.a.example", "a", "summer-a")
    assert (default.domain, default.fallback and default.fallback.id) == ("", "c")
    assert default.codes[CODE].id == "summer-c"
    assert a.cookie_suffix == default.cookie_suffix == cookie_suffix("", True)
    assert sites.site("lp.edge.test").cookie_suffix == cookie_suffix("Edge.Test", True)
    assert sites.of_header(b"TRACK.B.EXAMPLE:443").codes[CODE].id == "summer-b"


@pytest.mark.parametrize(("host", "domain", "inside"), [
    ("a.example", "a.example", True), ("x.a.example", "a.example", True),
    ("xa.example", "a.example", False), ("example", "a.example", False),
])
def test_cookie_domain_match(host: str, domain: str, inside: bool) -> None:
    assert within(host, domain) is inside


async def test_any_host_spelling_costs_a_bounded_memory() -> None:
    async with in_process_edge(compile_graph(two_domain_graph(), 1), b"unit-secret") as (app,
                                                                                       _):
        assert app.runtime is not None
        handler = ClickHandler(app.runtime)
        for n in range(3000):
            scope = {"type": "http", "method": "GET", "path": f"/c/{CODE}",
                     "raw_path": f"/c/{CODE}".encode(), "query_string": b"",
                     "client": ("127.0.0.1", 40000),
                     "headers": [(b"host", f"h{n}.example".encode()), (b"user-agent", UA.encode())]}
            assert handler.answer(scope, False)[0] == 302
        assert len(handler._sites) <= 1024
        assert [site.site.domain for site in handler._states.values()] == [""]
