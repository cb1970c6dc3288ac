"""Rotating TURNOUT_EDGE_SECRET: a lander cookie and a double-meta hop issued with the old
key still work on an edge that signs with the new one (issue #10, finding 13)."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import httpx

from tests.inprocess_edge import in_process_edge
from tests.unit.edge.test_app import WINDOWS, headers
from turnout.config.compiled import CompiledGraph
from turnout.events import TOPIC_CLICKS

BASE = "http://edge.test"


def _client(app: object) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 40000))  # type: ignore[arg-type]
    return httpx.AsyncClient(transport=transport, base_url=BASE)


async def test_an_in_flight_cookie_and_hop_survive_the_rotation(compiled: CompiledGraph) -> None:
    seen = headers("89.160.20.113", WINDOWS)
    async with in_process_edge(compiled, b"old-key") as (old, _sink), _client(old) as client:
        lander = await client.get("/c/CAMP_A", headers=seen)
        assert lander.status_code == 302 and lander.cookies.get("tc")
        cookies = dict(client.cookies)
        # Another visitor: in office hours INSTA_SUMMER_01 sends desktops to a lander, whose
        # context cookie must not join the first visitor's.
        async with _client(old) as other:
            meta = await other.get("/c/INSTA_SUMMER_01", headers=headers("214.78.0.1", WINDOWS))
        hop = re.search(r'url=(/r\?t=[^"]+)"', meta.text).group(1).replace("&amp;", "&")
    for secret, works in ((b"new-key,old-key", True), (b"new-key", False)):
        async with in_process_edge(compiled, secret) as (new, sink), _client(new) as client:
            client.cookies.update(cookies)
            lp = await client.get("/click", headers=seen)
            second = await client.get(hop)
            if works:
                assert urlsplit(lp.headers["location"]).hostname == "offers.alpha.example.net"
                assert [c.kind for c in sink.of(TOPIC_CLICKS)] == ["lp_click"]
                assert second.status_code == 200 and "url=" in second.text
            else:  # the old key dropped: what it signed is refused, as a forgery would be
                assert lp.headers.get("location") == "https://www.example.com/"
                assert sink.of(TOPIC_CLICKS) == []
                assert second.status_code == 400
