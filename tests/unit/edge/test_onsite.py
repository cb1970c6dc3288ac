"""Pixel and events API callers: a page with its workspace's pixel key from a listed
origin, or a server with a network's secret or signature; nobody else."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from tests.inprocess_edge import ListSink, in_process_edge
from turnout.config.compiled import CompiledGraph
from turnout.edge.onsite import request_origin
from turnout.edge.postback import signature
from turnout.events import TOPIC_CLICKS, TOPIC_CONVERSIONS, TOPIC_EVENTS

KEY = "acme-public-pixel-key-01"
PAGE = {"referer": "https://lp.example.com/us?cid=1"}
SHOP = {"origin": "https://shop.example.com"}
VISITOR = "01M7YPGTFDDG1FQ9XFWXKVP001"


@pytest.fixture
async def edge(compiled: CompiledGraph) -> AsyncIterator[tuple[httpx.AsyncClient, ListSink]]:
    async with in_process_edge(compiled, b"unit-secret") as (app, sink):
        # 198.51.100.7 is inside alpha-net's allowlist.
        transport = httpx.ASGITransport(app=app, client=("198.51.100.7", 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://edge.test") as client:
            yield client, sink


async def test_a_page_needs_its_key_and_a_listed_origin(edge):
    client, sink = edge
    query = {"visitor_id": VISITOR, "type": "conversion", "payout": "2"}
    answers = [
        await client.get("/p.gif", params=query, headers=PAGE),
        await client.get("/p.gif", params={**query, "pixel_key": "nope"}, headers=PAGE),
        await client.get("/p.gif", params={**query, "pixel_key": KEY}),
        await client.get("/p.gif", params={**query, "pixel_key": KEY},
                         headers={"referer": "https://evil.example/us"}),
        await client.get("/p.gif", params={**query, "secret": "alpha-postback-secret-01"},
                         headers=PAGE),
    ]
    assert [(a.status_code, a.text) for a in answers] == [
        (401, "a pixel_key (pages) or a network secret or signature (servers) is required"),
        (403, "unknown pixel_key"),
        (403, "origin not allowed for this pixel_key"),
        (403, "origin not allowed for this pixel_key"),
        (403, "network secrets are for server-to-server calls (POST /api/v1/events); a page "
              "sends its workspace's pixel_key"),
    ]
    assert sink.of(TOPIC_CONVERSIONS) == []
    ok = await client.get("/p.gif", params={**query, "pixel_key": KEY}, headers=PAGE)
    assert ok.status_code == 200
    [conversion] = sink.of(TOPIC_CONVERSIONS)
    assert (conversion.workspace_id, conversion.network_id, conversion.currency,
            conversion.currency_given, conversion.source) == ("acme", "", "EUR", False, "pixel")


async def test_page_events_are_scoped_and_money_needs_type_conversion(edge):
    client, sink = edge
    base = {"pixel_key": KEY, "visitor_id": VISITOR}
    event = await client.post("/api/v1/events", json={**base, "name": "signup"}, headers=SHOP)
    assert event.status_code == 202
    assert sink.of(TOPIC_EVENTS)[0].workspace_id == "acme"
    answers = [
        await client.post("/api/v1/events", json={**base, "event": "sale", "payout": "5"},
                          headers=SHOP),
        await client.post("/api/v1/events", json={**base, "type": "sale"}, headers=SHOP),
        await client.post("/api/v1/events", json={**base, "campaign_id": "nope"},
                          headers=SHOP),
    ]
    assert [(a.status_code, a.json()["reason"]) for a in answers] == [
        (400, "payout only with type=conversion (an event has a value)"),
        (400, "type must be event or conversion"),
        (400, "campaign_id is not a campaign of this workspace"),
    ]


async def test_a_server_sends_a_networks_secret_or_signature(edge):
    client, sink = edge
    await client.get("/c/CAMP_A", headers={"x-forwarded-for": "198.51.100.7"})
    click = sink.of(TOPIC_CLICKS)[0].click_id
    body = {"type": "conversion", "click_id": click, "status": "-1", "txid": "s1",
            "secret": "alpha-postback-secret-01"}
    assert (await client.post("/api/v1/events", json=body)).status_code == 202
    signed = {"type": "conversion", "click_id": click, "txid": "s2", "network": "beta-net"}
    signed["sig"] = signature("beta-hmac-signing-key-02", signed)
    assert (await client.post("/api/v1/events", json=signed)).status_code == 202
    bad = {**signed, "sig": "0" * 64}
    assert (await client.post("/api/v1/events", json=bad)).status_code == 403
    alpha, beta = sink.of(TOPIC_CONVERSIONS)
    assert (alpha.network_id, alpha.status, alpha.source, alpha.workspace_id) == (
        "alpha-net", "declined", "api", "acme")  # "-1" through alpha's own status words
    assert (beta.network_id, beta.txid, beta.any_offer) == ("beta-net", "s2", False)


@pytest.mark.parametrize(("origin", "referer", "expected"), [
    ("https://shop.example.com", "", "https://shop.example.com"),
    ("", "https://Shop.example.com:443/cart?x=1#y", "https://shop.example.com"),
    ("null", "https://lp.example.com/", "https://lp.example.com"),
    ("", "", ""),
    ("", "not a url", ""),
])
def test_request_origin(origin: str, referer: str, expected: str):
    assert request_origin(origin, referer) == expected
