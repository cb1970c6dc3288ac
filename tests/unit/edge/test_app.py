"""The whole ASGI app in process: example graph, list sink, httpx's ASGI transport."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from urllib.parse import parse_qs, urlsplit

import httpx
import msgspec
import pytest

from tests.inprocess_edge import ListSink, in_process_edge
from turnout.config.compile import compile_graph
from turnout.config.compiled import CompiledGraph
from turnout.events import TOPIC_CLICKS, TOPIC_CONVERSIONS, TOPIC_EVENTS, Click
from turnout.splitter.decide import decide
from turnout.splitter.types import Visitor

IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
          "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1")
WINDOWS = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
           "Chrome/124.0.0.0 Safari/537.36")
PIXEL_KEY = "acme-public-pixel-key-01"  # the example graph's workspace
ALLOWED_HOSTS = {"lp.example.com", "quiz.example.com", "offers.alpha.example.net",
                 "go.beta.example.org", "shop.example.com", "www.example.com"}


@pytest.fixture
async def edge(compiled: CompiledGraph) -> AsyncIterator[tuple[httpx.AsyncClient, ListSink]]:
    async with in_process_edge(compiled, b"unit-secret") as (app, sink):
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://edge.test") as client:
            yield client, sink


def headers(ip: str, ua: str = IPHONE, **extra: str) -> dict[str, str]:
    return {"x-forwarded-for": ip, "user-agent": ua, "accept-language": "ru-RU,ru;q=0.9", **extra}


async def test_russia_always_gets_lander_b_with_macros(edge):
    client, sink = edge
    response = await client.get("/c/CAMP_A?zoneid=z%201&bid=0.02", headers=headers("2a02:d0c0::1"))
    assert response.status_code == 302
    location = urlsplit(response.headers["location"])
    assert (location.hostname, location.path) == ("lp.example.com", "/b")
    query = parse_qs(location.query)
    assert query["lang"] == ["ru"]
    assert response.headers["cache-control"] == "no-store"
    [click] = sink.of(TOPIC_CLICKS)
    assert query["cid"] == [click.click_id]
    assert (click.rule_id, click.destination_id, click.lander_id) == ("russia", "b", "lp-b")
    assert (click.country, click.device, click.os, click.language) == ("RU", "mobile", "iOS", "ru")
    assert click.ip == "2a02:d0c0::"  # /48, the workspace did not opt into raw IPs
    assert click.subs[0] == "z 1" and click.cost_micros == 20_000
    assert click.graph_version == 5 and click.visitor_id
    tv = response.cookies["tv"]
    assert tv == click.visitor_id
    cookie_header = response.headers.get_list("set-cookie")
    assert any("Max-Age=31536000" in c and "HttpOnly" in c and "SameSite=Lax" in c
               for c in cookie_header)


async def test_location_is_what_the_splitter_decides(edge, compiled):
    client, sink = edge
    campaign = compiled.campaigns_by_code["CAMP_A"]
    for n, ip in enumerate(["214.78.0.1", "89.160.20.113", "175.16.199.1", "2001:218::1"] * 5):
        visitor_id = f"01M7YPGTFDDG1FQ9XFWXKVP{n:03d}"
        response = await client.get("/c/CAMP_A", headers=headers(ip, cookie=f"tv={visitor_id}"))
        click = sink.of(TOPIC_CLICKS)[-1]
        assert "tv" not in response.cookies  # a valid cookie is kept, not replaced
        assert click.visitor_id == visitor_id
        country = {"214.78.0.1": "US", "89.160.20.113": "SE", "175.16.199.1": "CN",
                   "2001:218::1": "JP"}[ip]
        choice = decide(campaign.table, Visitor(visitor_id=visitor_id, country=country,
                                                device="mobile"), click.ts_ms)
        assert choice is not None
        expected = choice.destination.payload.url.render({"clickid": click.click_id,
                                                          "country": country})
        assert response.headers["location"] == expected
        assert click.rule_id == choice.rule_id


async def test_head_is_answered_but_not_counted(edge):
    client, sink = edge
    get = await client.get("/c/CAMP_A", headers=headers("214.78.0.1", cookie="tv=" + "1" * 26))
    head = await client.head("/c/CAMP_A", headers=headers("214.78.0.1", cookie="tv=" + "1" * 26))
    assert head.status_code == get.status_code == 302
    assert urlsplit(head.headers["location"]).path == urlsplit(get.headers["location"]).path
    assert len(sink.of(TOPIC_CLICKS)) == 1


@pytest.mark.parametrize(("ua", "extra", "reason"), [
    ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", {}, "ua_bot"),
    ("facebookexternalhit/1.1", {}, "link_preview"),
    ("", {}, "empty_ua"),
    (IPHONE, {"sec-purpose": "prefetch"}, "prefetch"),
    (IPHONE, {"purpose": "prefetch"}, "prefetch"),
])
async def test_bots_follow_the_campaign_policy(edge, ua, extra, reason):
    client, sink = edge
    response = await client.get("/c/CAMP_A", headers=headers("214.78.0.1", ua, **extra))
    assert response.headers["location"] == "https://www.example.com/?bot=1"
    response = await client.get("/c/INSTA_SUMMER_01", headers=headers("214.78.0.1", ua, **extra))
    assert response.status_code == 404
    clicks = sink.of(TOPIC_CLICKS)
    assert len(clicks) == 2
    assert all(c.is_bot and c.bot_reason == reason for c in clicks)


async def test_workspace_bot_ranges(edge):
    client, sink = edge
    response = await client.get("/c/CAMP_A", headers=headers("66.249.66.1"))
    assert response.headers["location"] == "https://www.example.com/?bot=1"
    assert sink.of(TOPIC_CLICKS)[0].bot_reason == "ip_range"


async def test_untrusted_peer_cannot_forge_its_address(compiled):
    async with in_process_edge(compiled, b"s", trusted=()) as (app, sink):
        transport = httpx.ASGITransport(app=app, client=("89.160.20.113", 1))
        async with httpx.AsyncClient(transport=transport, base_url="http://e") as client:
            await client.get("/c/CAMP_A", headers=headers("2a02:d0c0::1"))
    assert sink.of(TOPIC_CLICKS)[0].country == "SE"


async def test_unknown_code_goes_to_the_workspace_fallback(edge):
    client, sink = edge
    for code in ("NOPE", "x" * 300, "CAMP_A/extra", "%00"):
        response = await client.get(f"/c/{code}")
        assert response.status_code == 302
        assert response.headers["location"] == "https://www.example.com/"
    assert sink.of(TOPIC_CLICKS) == []


async def test_inactive_campaign_behaviour(compiled):
    graph = compiled.graph
    campaigns = tuple(msgspec.structs.replace(c, status="paused") for c in graph.campaigns)
    paused = compile_graph(msgspec.structs.replace(graph, campaigns=campaigns), 6)
    async with in_process_edge(paused, b"s", trusted=()) as (app, sink):
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 1))
        async with httpx.AsyncClient(transport=transport, base_url="http://e") as client:
            assert (await client.get("/c/CAMP_A")).status_code == 404
            response = await client.get("/c/INSTA_SUMMER_01")
            assert response.headers["location"] == "https://www.example.com/offer-ended"
    assert sink.events == []


async def test_double_meta_hides_the_referrer(edge):
    client, sink = edge
    first = await client.get("/c/INSTA_SUMMER_01?adset=a1",
                             headers=headers("214.78.0.1", WINDOWS, referer="https://ig.example/"))
    assert first.status_code == 200
    assert first.headers["referrer-policy"] == "no-referrer"
    hop = re.search(r'url=(/r\?t=[^"]+)"', first.text).group(1)
    second = await client.get(hop.replace("&amp;", "&"))
    assert second.status_code == 200
    final = re.search(r'url=([^"]+)"', second.text).group(1).replace("&amp;", "&")
    [click] = sink.of(TOPIC_CLICKS)
    assert urlsplit(final).hostname in ALLOWED_HOSTS
    assert click.click_id in final
    assert click.referrer_domain == "ig.example"
    forged = hop[:-3] + ("AAA" if not hop.endswith("AAA") else "BBB")
    assert (await client.get(forged)).status_code == 400


async def test_lander_click_continues_to_the_offer(edge):
    client, sink = edge
    # A Swedish desktop visitor on CAMP_A gets one of the two landers; its CTA leads on.
    first = await client.get("/c/CAMP_A", headers=headers("89.160.20.113", WINDOWS))
    [click] = sink.of(TOPIC_CLICKS)
    second = await client.get("/click", headers=headers("89.160.20.113", WINDOWS))
    assert second.status_code == 302, second.text
    offer = urlsplit(second.headers["location"])
    assert offer.hostname == "offers.alpha.example.net"
    assert parse_qs(offer.query)["sub"] == [click.click_id]  # postbacks name the click
    lp_click = sink.of(TOPIC_CLICKS)[1]
    assert lp_click.kind == "lp_click" and lp_click.parent_click_id == click.click_id
    assert lp_click.offer_id in {"vpn-us", "vpn-global"} and lp_click.funnel_step == 1
    assert first.cookies.get("tc")
    # /click/2 on a one-offer lander, and no context at all: refused (here: the fallback).
    assert (await client.get("/click/2")).status_code in (302, 404)
    client.cookies.clear()
    refused = await client.get("/click")
    assert refused.headers.get("location") == "https://www.example.com/"


async def test_funnel_steps(edge):
    client, sink = edge
    # The stories campaign's default path is the quiz funnel: lander, lander, offer.
    first = await client.get("/c/INSTA_SUMMER_01_STORIES", headers=headers("89.160.20.113"))
    assert urlsplit(first.headers["location"]).path == "/start"
    second = await client.get("/click", headers=headers("89.160.20.113"))
    assert urlsplit(second.headers["location"]).path == "/result"
    third = await client.get("/click", headers=headers("89.160.20.113"))
    assert urlsplit(third.headers["location"]).hostname == "go.beta.example.org"
    steps = [(c.kind, c.funnel_step) for c in sink.of(TOPIC_CLICKS)]
    assert steps == [("click", 0), ("lp_click", 1), ("lp_click", 2)]


HOSTILE = [
    "/c/CAMP_A?url=https://evil.example/",
    "/c/CAMP_A?zoneid=//evil.example&sub1=https://evil.example",
    "/c/CAMP_A?zoneid=%0d%0aLocation:%20https://evil.example",
    "/c/CAMP_A?zoneid=javascript:alert(1)",
    "/c/CAMP_A?zoneid=%2F%2Fevil.example%2F",
    "/c/CAMP_A?next=%68%74%74%70%73%3a%2f%2fevil.example",
    "/c/INSTA_SUMMER_01_STORIES?utm_content=story-b&ad=@evil.example",
    "/c//evil.example",
    "/c/%2F%2Fevil.example",
    "/c/CAMP_A?a=%zz",
    "/c/CAMP_A?a=%ff",
    "/c/CAMP_A?" + "a=1&" * 200,
    "/c/CAMP_A?a=" + "x" * 10_000,
    "/click?cid=../../etc",
    "/click/999999999999",
    "/r?t=https://evil.example/",
    "/r?url=https://evil.example/",
]


@pytest.mark.parametrize("path", HOSTILE)
async def test_hostile_input_never_leaves_the_configured_hosts(edge, path):
    client, _ = edge
    response = await client.get(path, headers=headers("214.78.0.1"))
    assert response.status_code < 500
    location = response.headers.get("location")
    if location is not None:
        assert urlsplit(location).hostname in ALLOWED_HOSTS
        assert "\r" not in location and "\n" not in location
    assert "evil.example/" not in response.text or response.status_code >= 400


async def test_huge_cookie_is_refused(edge):
    client, _ = edge
    response = await client.get("/c/CAMP_A", headers={"cookie": "x=" + "a" * 20_000})
    assert response.status_code == 431


async def test_postback_pixel_and_events(edge):
    client, sink = edge
    await client.get("/c/CAMP_A", headers=headers("214.78.0.1"))
    click = sink.of(TOPIC_CLICKS)[0]
    response = await client.get(
        f"/postback?clickid={click.click_id}&secret=beta-postback-secret-02&payout=1.5&txid=t1")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "accepted" and body["conversion_id"]
    response = await client.post("/postback", data={"clickid": click.click_id,
                                                     "secret": "beta-postback-secret-02"})
    assert response.status_code == 200
    response = await client.post("/postback", content=b"x" * 100_000,
                                 headers={"content-type": "application/x-www-form-urlencoded"})
    assert response.status_code == 413
    response = await client.get("/postback?clickid=zz&secret=beta-postback-secret-02")
    assert response.status_code == 400 and response.json()["reason"] == "malformed click id"
    conversions = sink.of(TOPIC_CONVERSIONS)
    assert [c.click_id for c in conversions] == [click.click_id] * 2

    page = {"referer": "https://lp.example.com/us?cid=x"}  # an <img> sends no Origin
    pixel = await client.get(f"/p.gif?event=signup&pixel_key={PIXEL_KEY}",
                             headers=page)  # the tv cookie from the click identifies
    assert pixel.status_code == 200 and pixel.headers["content-type"] == "image/gif"
    assert sink.of(TOPIC_EVENTS)[0].visitor_id == click.visitor_id
    pixel = await client.get(
        f"/p.gif?type=conversion&payout=2&campaign_id=camp-a&pixel_key={PIXEL_KEY}",
        headers=page)
    assert pixel.status_code == 200
    assert sink.of(TOPIC_CONVERSIONS)[-1].visitor_id == click.visitor_id
    client.cookies.clear()
    assert (await client.get(f"/p.gif?pixel_key={PIXEL_KEY}", headers=page)).status_code == 400

    origin = {"origin": "https://shop.example.com"}
    api = await client.post("/api/v1/events", json={"type": "conversion", "visitor_id":
                                                    click.visitor_id, "payout": "9.90",
                                                    "pixel_key": PIXEL_KEY}, headers=origin)
    assert api.status_code == 202
    assert sink.of(TOPIC_CONVERSIONS)[-1].payout_micros == 9_900_000
    assert (await client.post("/api/v1/events", content=b"[1,2")).status_code == 400
    assert (await client.post("/api/v1/events", json={"name": "x", "pixel_key": PIXEL_KEY},
                              headers=origin)).status_code == 400


async def test_health_ready_metrics(edge):
    client, _ = edge
    await client.get("/c/CAMP_A", headers=headers("214.78.0.1"))
    assert (await client.get("/healthz")).status_code == 200
    ready = await client.get("/readyz")
    assert ready.status_code == 200 and "version 5" in ready.text
    metrics = (await client.get("/metrics")).text
    assert 'turnout_edge_requests_total{route="c",status="302"} 1' in metrics
    assert "turnout_edge_redirect_seconds_count 1" in metrics
    assert "turnout_edge_graph_version 5" in metrics


async def test_events_are_valid_contract_messages(edge):
    client, sink = edge
    await client.get("/c/CAMP_A?zoneid=1", headers=headers("214.78.0.1"))
    [click] = sink.of(TOPIC_CLICKS)
    encoded = msgspec.json.encode(click)
    assert msgspec.json.decode(encoded, type=Click) == click
