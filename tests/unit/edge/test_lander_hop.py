"""The lander -> offer hop (issue #10, findings 2, 3 and 5): the click's values survive it,
the LP click is stored under the lander it was made on, /click works without the cookie
through the signed `{lp_cid}`, and HEAD never sets a cookie."""

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import parse_qs, urlsplit

import httpx
import msgspec
import pytest

from tests.inprocess_edge import ListSink, in_process_edge
from tests.unit.edge.conftest import EXAMPLE
from turnout.config.compile import compile_graph
from turnout.config.io import load_graph
from turnout.config.model import Graph
from turnout.edge.context import MAX_CID_TOKEN, ContextCodec, LanderContext
from turnout.events import TOPIC_CLICKS

RUSSIA = {"x-forwarded-for": "2a02:d0c0::1", "user-agent": "Mozilla/5.0 (iPhone; CPU iPhone "
          "OS 17_4 like Mac OS X) AppleWebKit/605.1.15 Version/17.4 Mobile/15E148 Safari/604.1"}
SWEDEN = {**RUSSIA, "x-forwarded-for": "89.160.20.113"}
# PushNet's names: zoneid -> sub1, creative -> sub2, bid -> cost, clickid -> external_id.
QUERY = "zoneid=z%201&creative=c2&bid=0.02&clickid=ext-9&utm=spring&sub5=five"


def _graph() -> Graph:
    """The example graph with lander B passing the signed cid and offers that ask for
    every click value (lander B leads to dating-ru; the quiz funnel to antivirus)."""
    graph = load_graph(EXAMPLE)
    values = "&z={sub1}&h={sub2}&s5={sub5}&e={external_id}&k={cost}&u={param:utm}"
    offers = tuple(msgspec.structs.replace(o, url=o.url + values)
                   if o.id in ("dating-ru", "antivirus") else o for o in graph.offers)
    landers = tuple(msgspec.structs.replace(lp, url=lp.url.replace("{clickid}", "{lp_cid}"))
                    if lp.id in ("lp-b", "lp-quiz", "lp-quiz-result") else lp
                    for lp in graph.landers)
    return msgspec.structs.replace(graph, offers=offers, landers=landers)


@pytest.fixture
async def edge() -> AsyncIterator[tuple[httpx.AsyncClient, ListSink]]:
    async with in_process_edge(compile_graph(_graph(), 5), b"unit-secret") as (app, sink):
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://edge.test") as client:
            yield client, sink


def _query(response: httpx.Response) -> dict[str, list[str]]:
    return parse_qs(urlsplit(response.headers["location"]).query)


async def test_sub_ids_and_values_survive_the_hop(edge):
    client, sink = edge
    first = await client.get(f"/c/CAMP_A?{QUERY}", headers=RUSSIA)
    assert first.status_code == 302 and first.cookies.get("tc")
    offer = await client.get("/click", headers=RUSSIA)
    assert offer.status_code == 302, offer.text
    query = _query(offer)
    click, lp_click = sink.of(TOPIC_CLICKS)
    assert query["sub"] == [click.click_id]
    assert (query["z"], query["h"], query["s5"]) == (["z 1"], ["c2"], ["five"])
    assert (query["e"], query["k"], query["u"]) == (["ext-9"], ["0.02"], ["spring"])
    assert lp_click.subs == click.subs and lp_click.subs[:2] == ["z 1", "c2"]
    assert lp_click.external_id == "ext-9" and lp_click.params["utm"] == "spring"
    # Cost is the campaign click's: counted once, there.
    assert click.cost_micros == 20_000 and lp_click.cost_micros == 0


async def test_lp_click_is_under_the_lander_it_was_made_on(edge):
    client, sink = edge
    await client.get("/c/CAMP_A", headers=RUSSIA)
    await client.get("/click", headers=RUSSIA)
    click, lp_click = sink.of(TOPIC_CLICKS)
    assert (click.lander_id, click.offer_id, click.network_id) == ("lp-b", "", "")
    assert (lp_click.lander_id, lp_click.offer_id, lp_click.network_id) == (
        "lp-b", "dating-ru", "alpha-net")
    assert lp_click.offer_payout_micros > 0
    # dating-ru names no currency: it pays in the workspace's (the example's EUR); the
    # campaign click carries the lander's first CTA offer's terms until the visitor picks.
    assert lp_click.offer_currency == click.offer_currency == "EUR"


async def test_funnel_lp_clicks_are_under_each_step_and_keep_the_values(edge):
    client, sink = edge
    stories = "/c/INSTA_SUMMER_01_STORIES?adset=a1&ad=ad2&utm=spring"
    await client.get(stories, headers=SWEDEN)
    await client.get("/click", headers=SWEDEN)
    last = await client.get("/click", headers=SWEDEN)
    click, to_result, to_offer = sink.of(TOPIC_CLICKS)
    assert [(c.lander_id, c.offer_id, c.funnel_step) for c in (click, to_result, to_offer)] == [
        ("lp-quiz", "", 0), ("lp-quiz", "", 1), ("lp-quiz-result", "antivirus", 2)]
    assert to_offer.funnel_id == to_result.funnel_id == click.funnel_id == "quiz-funnel"
    assert to_offer.subs[:2] == ["a1", "ad2"] and to_offer.params["utm"] == "spring"
    assert _query(last)["z"] == ["a1"] and _query(last)["u"] == ["spring"]


async def test_click_with_the_signed_cid_works_without_the_cookie(edge):
    client, sink = edge
    first = await client.get(f"/c/CAMP_A?{QUERY}", headers=RUSSIA)
    [signed] = _query(first)["cid"]
    assert len(signed) <= MAX_CID_TOKEN
    client.cookies.clear()
    offer = await client.get(f"/click?cid={signed}", headers=RUSSIA)
    assert offer.status_code == 302, offer.text
    assert urlsplit(offer.headers["location"]).hostname == "offers.alpha.example.net"
    click, lp_click = sink.of(TOPIC_CLICKS)
    assert _query(offer)["sub"] == [click.click_id] and _query(offer)["z"] == ["z 1"]
    assert lp_click.parent_click_id == click.click_id and lp_click.subs[:2] == ["z 1", "c2"]


async def test_funnel_without_cookies_moves_the_signed_cid_along(edge):
    client, sink = edge
    first = await client.get("/c/INSTA_SUMMER_01_STORIES?adset=a1", headers=SWEDEN)
    [signed] = _query(first)["cid"]
    client.cookies.clear()
    second = await client.get(f"/click?cid={signed}", headers=SWEDEN)
    [moved] = _query(second)["cid"]
    assert urlsplit(second.headers["location"]).path == "/result" and moved != signed
    client.cookies.clear()
    third = await client.get(f"/click?cid={moved}", headers=SWEDEN)
    assert urlsplit(third.headers["location"]).hostname == "go.beta.example.org"
    assert _query(third)["z"] == ["a1"]
    assert [(c.kind, c.funnel_step) for c in sink.of(TOPIC_CLICKS)] == [
        ("click", 0), ("lp_click", 1), ("lp_click", 2)]


async def test_a_forged_expired_or_foreign_cid_is_refused(edge):
    client, sink = edge
    first = await client.get("/c/CAMP_A", headers=RUSSIA)
    [signed] = _query(first)["cid"]
    client.cookies.clear()
    body, mac = signed.split(".")
    forged = body[:-2] + ("AA" if not body.endswith("AA") else "BB") + "." + mac
    other_key = ContextCodec(b"another-secret").cid_token(
        ContextCodec(b"unit-secret").decode_cid(signed))  # type: ignore[arg-type]
    click = sink.of(TOPIC_CLICKS)[0]
    stale = ContextCodec(b"unit-secret").cid_token(LanderContext(
        click.click_id, "camp-a", 5, "russia", "b", 0, click.ts_ms - 31 * 86_400_000))
    for cid in (forged, other_key, stale, signed + "x"):
        refused = await client.get(f"/click?cid={cid}", headers=RUSSIA)
        # The workspace fallback, never a destination of the campaign.
        assert refused.headers.get("location") == "https://www.example.com/", cid
    assert len(sink.of(TOPIC_CLICKS)) == 1


@pytest.mark.parametrize("path", ["/c/CAMP_A", "/c/INSTA_SUMMER_01_STORIES", "/c/NO_SUCH"])
async def test_head_sets_no_cookie(edge, path):
    client, sink = edge
    head = await client.head(path, headers=RUSSIA)
    assert head.status_code in (200, 302, 404)
    assert head.headers.get_list("set-cookie") == []
    assert sink.of(TOPIC_CLICKS) == []


async def test_head_on_click_sets_no_cookie_and_records_nothing(edge):
    client, sink = edge
    await client.get("/c/INSTA_SUMMER_01_STORIES", headers=SWEDEN)
    cookies = {name: client.cookies[name] for name in ("tc",)}
    client.cookies.clear()
    head = await client.head("/click", headers={**SWEDEN, "cookie": f"tc={cookies['tc']}"})
    assert head.status_code == 302 and head.headers.get_list("set-cookie") == []
    assert len(sink.of(TOPIC_CLICKS)) == 1
    # A new visitor's HEAD on /click gets no tv cookie either.
    assert "tv=" not in " ".join(head.headers.get_list("set-cookie"))


def test_a_long_query_sheds_parameters_but_keeps_the_values():
    codec = ContextCodec(b"k")
    params = {f"p{i}": "x" * 200 for i in range(40)} | {"zoneid": "z1", "sub3": "s3"}
    context = LanderContext("01M7YPGTFDDHG53XPNTMQ98MHF", "camp-a", 3, "usa", "usa", 0, 1, params)
    token = codec.cid_token(context, {"zoneid", "sub3"})
    assert len(token) <= MAX_CID_TOKEN
    assert codec.decode_cid(token).params == {"zoneid": "z1", "sub3": "s3"}  # type: ignore[union-attr]
    cookie = codec.encode_contexts([context, context], {"zoneid"})
    assert codec.decode_contexts(cookie)[-1].params == {"zoneid": "z1"}
    short = msgspec.structs.replace(context, params={"zoneid": "z1"})
    assert codec.decode_contexts(codec.encode_contexts([short])) == [short]
