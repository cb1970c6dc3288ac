"""End to end: example graph in Valkey, a real `turnout edge`, clicks read back from tansu."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.integration.edge_support import (
    BOT,
    DESKTOP,
    DEVICES,
    IPS,
    MOBILE,
    EdgeProcess,
    Sent,
    assert_safe,
    click_id_in,
    compiled,
    consume_clicks,
    edge_client,
    fire,
    running_edge,
)
from turnout.clickid import ClickIds
from turnout.local.services import LocalStack
from turnout.splitter.decide import decide
from turnout.splitter.types import Visitor

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
async def edge(stack: LocalStack, tmp_path_factory: pytest.TempPathFactory
               ) -> AsyncIterator[EdgeProcess]:
    async with running_edge(stack, tmp_path_factory.mktemp("edge-clicks")) as process:
        yield process


@pytest.fixture
async def client(edge: EdgeProcess) -> AsyncIterator[httpx.AsyncClient]:
    async with edge_client(edge) as http:
        yield http


def visitor_ids(n: int) -> list[str]:
    ids = ClickIds(seed=b"edge-test-visitors")
    return [ids.new(1_700_000_000_000 + i) for i in range(n)]


async def test_thousand_clicks_route_and_arrive_once(edge, client, kafka_bootstrap):
    version = edge.version
    table = compiled(edge.graph, version)
    campaign_a = table.campaigns_by_code["CAMP_A"]
    stories = table.campaigns_by_code["INSTA_SUMMER_01_STORIES"]
    ips, uas = list(IPS), [MOBILE, DESKTOP, BOT]
    visitors = visitor_ids(1000)
    requests: list[Sent] = []
    for i, visitor in enumerate(visitors):
        ip, ua = ips[i % len(ips)], uas[i % 3 if i % 7 else 2]
        if i % 4 == 0:  # the stories campaign: a query rule, a url destination and macros
            path = "/c/INSTA_SUMMER_01_STORIES?utm_content=story-b&ad=a b%26c%3Dd%2F%C3%A9" \
                if i % 8 == 0 else "/c/INSTA_SUMMER_01_STORIES?adset=s1"
        else:
            path = f"/c/CAMP_A?zoneid=z{i % 13}&bid=0.00{i % 9 + 1}"
        requests.append(Sent(path, ip, ua, visitor))
    heads = [Sent("/c/CAMP_A", ip, MOBILE, v, method="HEAD")
             for ip, v in zip(ips * 5, visitor_ids(50), strict=False)]
    sent = await fire(client, requests + heads)
    assert_safe(sent)

    counted: dict[str, Sent] = {}
    for s in sent:
        if s.method != "GET":
            continue
        if s.ua == BOT and s.path.startswith("/c/CAMP_A"):
            # CAMP_A sends bots to its bot URL; the click is still recorded, flagged.
            assert s.location == "https://www.example.com/?bot=1"
            continue
        assert s.status == 302, (s.path, s.status)
        counted[click_id_in(s.location)] = s
    bots_a = [s for s in sent if s.method == "GET" and s.ua == BOT and "/c/CAMP_A" in s.path]
    head_ids = {click_id_in(s.location) for s in heads if s.location and "cid=" in s.location}
    assert len(head_ids) == len(heads)

    bot_visitors = frozenset(s.visitor_id for s in bots_a)
    found = await consume_clicks(kafka_bootstrap, set(counted), timeout=60, settle=2.0,
                                 visitors=bot_visitors, unwanted=frozenset(head_ids))
    assert not head_ids & set(found), "HEAD requests must not be counted"
    # CAMP_A sends bots to its bot URL; their clicks are still recorded, flagged.
    policy_bots = [events[0] for events in found.values() if events[0].visitor_id in bot_visitors]
    assert len(policy_bots) == len(bots_a)
    assert all(c.is_bot and c.bot_reason == "ua_bot" and c.rule_id == "bot_policy"
               for c in policy_bots)
    found = {k: v for k, v in found.items() if k in counted or k in head_ids}
    assert set(found) == set(counted)
    assert all(len(events) == 1 for events in found.values())

    for click_id, s in counted.items():
        [click] = found[click_id]
        country, device = IPS[s.ip], DEVICES[s.ua]
        assert (click.country, click.device, click.visitor_id) == (country, device, s.visitor_id)
        assert click.graph_version == version
        assert click.is_bot == (s.ua == BOT)
        assert click.ip and click.ip != s.ip  # anonymised
        assert click.language == "de"
        campaign = campaign_a if "/c/CAMP_A" in s.path else stories
        query = {k: v[0] for k, v in parse_qs(urlsplit(s.path).query).items()}
        choice = decide(campaign.table, Visitor(
            visitor_id=s.visitor_id, country=country, device=device, os=click.os,
            browser=click.browser, language="de", query=query, is_bot=click.is_bot,
        ), click.ts_ms)
        assert choice is not None
        assert (click.rule_id, click.destination_id) == (choice.rule_id, choice.destination.id)
        expected = choice.destination.payload.url.render({
            "clickid": click_id, "country": country, "language": "de", "sub2": query.get("ad", ""),
        })
        assert s.location == expected
        if campaign is campaign_a:
            assert click.cost_micros == int(query["bid"][-1]) * 1000
            assert click.subs[0] == query["zoneid"]
    story_b = [s for s in counted.values() if "story-b" in s.path]
    assert story_b and all(
        s.location.endswith("&ad=a%20b%26c%3Dd%2F%C3%A9") for s in story_b
    ), story_b[0].location


async def test_readyz_metrics_and_shutdown(edge, client):
    assert (await client.get("/healthz")).status_code == 200
    metrics = (await client.get("/metrics")).text
    assert 'turnout_edge_requests_total{route="c",status="302"}' in metrics
    assert "turnout_sink_sent_total" in metrics
    edge.terminate()
    # uvicorn re-raises the captured SIGTERM after its graceful shutdown.
    assert edge.wait(30) in (0, -15)
    log = edge.log()
    assert "Traceback" not in log
    assert "Application shutdown complete" in log
    assert "Finished server process" in log


def test_log_has_no_secrets_or_addresses(edge: EdgeProcess):
    log = edge.log()
    for needle in [*IPS, "edge-test-signing-secret", "postback-secret"]:
        assert needle not in log
    assert Path(edge.log_path).stat().st_size > 0
