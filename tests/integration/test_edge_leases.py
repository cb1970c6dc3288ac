"""Budgets, click caps and the overlay across two real edges on one Redis (edge.leases,
edge.limits, edge.overlay): exactly the budget's worth of clicks is served, never more."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

import httpx
import pytest
import redis.asyncio as aioredis

from tests.integration.edge_support import (
    DESKTOP,
    EdgeProcess,
    click_id_in,
    consume_clicks,
    publish,
)
from turnout.config import overlay
from turnout.config.io import load_graph
from turnout.config.meters import SEEDED, TOTAL, Meters, seeded_key
from turnout.config.overlay import Verdict
from turnout.local.services import LocalStack

pytestmark = pytest.mark.slow

GRAPH = """
workspaces:
  - {id: w, name: W, timezone: UTC, currency: EUR, fallback_url: "https://www.example.com/"}
traffic_sources:
  - {id: ts, workspace: w, name: TS}
networks:
  - {id: n, workspace: w, name: N, secret: lease-test-network-secret}
offers:
  - {id: capped, workspace: w, name: Capped, network: n, payout: "1.00", daily_click_cap: 30,
     fallback_offer: spare, url: "https://offers.example.net/capped?cid={clickid}"}
  - {id: spare, workspace: w, name: Spare, network: n, payout: "1.00",
     url: "https://offers.example.net/spare?cid={clickid}"}
  - {id: main, workspace: w, name: Main, network: n, payout: "1.00", fallback_offer: alt,
     daily_cap: 100,
     url: "https://offers.example.net/main?cid={clickid}"}
  - {id: alt, workspace: w, name: Alt, network: n, payout: "1.00",
     url: "https://offers.example.net/alt?cid={clickid}"}
campaigns:
  - id: paid
    workspace: w
    name: Paid
    code: PAID
    traffic_source: ts
    status: active
    cost_model: {type: cpc, value: "0.10"}
    budget: "5.00"
    inactive: {action: url, url: "https://www.example.com/over"}
    default: [{id: d, kind: url, url: "https://shop.example.com/paid?cid={clickid}"}]
  - id: flushed
    workspace: w
    name: Flushed
    code: FLUSHED
    traffic_source: ts
    status: active
    cost_model: {type: cpc, value: "0.10"}
    budget: "3.00"
    inactive: {action: url, url: "https://www.example.com/over"}
    default: [{id: d, kind: url, url: "https://shop.example.com/flushed?cid={clickid}"}]
  - id: offers
    workspace: w
    name: Offers
    code: OFFERS
    traffic_source: ts
    status: active
    default: [{id: o, kind: offer, ref: capped}]
  - id: clicky
    workspace: w
    name: Clicky
    code: CLICKY
    traffic_source: ts
    status: active
    daily_click_cap: 20
    inactive: {action: url, url: "https://www.example.com/over"}
    default: [{id: d, kind: url, url: "https://shop.example.com/clicky?cid={clickid}"}]
  - id: overlaid
    workspace: w
    name: Overlaid
    code: OVERLAID
    traffic_source: ts
    status: active
    inactive: {action: url, url: "https://www.example.com/over"}
    default: [{id: o, kind: offer, ref: main}]
"""
MAX_BLOCK = 10  # clicks' worth: the undershoot and post-flush bound is edges x this


@pytest.fixture(scope="module")
async def edges(stack: LocalStack, tmp_path_factory: pytest.TempPathFactory
                ) -> AsyncIterator[list[EdgeProcess]]:
    directory = tmp_path_factory.mktemp("edge-leases")
    source = directory / "graph.yaml"
    source.write_text(GRAPH)
    first = EdgeProcess(stack, directory / "a",
                        extra_env={"TURNOUT_EDGE_LEASE_MAX_BLOCK": str(MAX_BLOCK)})
    second = EdgeProcess(stack, directory / "b", prefix=first.prefix,
                         extra_env=first.extra_env)
    await publish(stack.redis_url, first.prefix, load_graph(source))
    started = []
    try:
        for edge in (first, second):
            edge.start()
            started.append(edge)
        yield started
    finally:
        for edge in started:
            edge.stop()


@pytest.fixture
async def redis(stack: LocalStack) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(stack.redis_url)
    try:
        yield client
    finally:
        await client.aclose()


@contextlib.asynccontextmanager
async def clients(edges: list[EdgeProcess]) -> AsyncIterator[list[httpx.AsyncClient]]:
    async with contextlib.AsyncExitStack() as stack:
        yield [await stack.enter_async_context(httpx.AsyncClient(
            base_url=e.base_url, timeout=10, limits=httpx.Limits(max_connections=50)))
            for e in edges]


async def burst(http: list[httpx.AsyncClient], code: str, n: int) -> list[str]:
    """`n` clicks on `code` fired at once, spread over the edges: their Location headers."""
    headers = {"x-forwarded-for": "214.78.0.1", "user-agent": DESKTOP}
    answers = await asyncio.gather(*(http[i % len(http)].get(f"/c/{code}", headers=headers)
                                     for i in range(n)))
    assert all(a.status_code == 302 for a in answers), {a.status_code for a in answers}
    return [a.headers["location"] for a in answers]


async def test_a_cpc_budget_serves_exactly_its_worth_across_two_edges(edges, redis, stack):
    meters = Meters(redis, edges[0].prefix)
    key = meters.key("budget", "paid", TOTAL)
    served: list[str] = []
    async with clients(edges) as http:
        for _ in range(10):  # refusals during a refill leave budget for the next burst
            locations = await burst(http, "PAID", 200)
            served += [u for u in locations if u.startswith("https://shop.example.com/paid")]
            refused = [u for u in locations if not u.startswith("https://shop.example.com/")]
            assert set(refused) <= {"https://www.example.com/over"}
            assert len(served) <= 50  # overshoot 0, at every moment
            assert (await meters.read(key)).granted <= 5_000_000
            if len(served) == 50:
                break
        assert len(served) == 50
        assert not [u for u in await burst(http, "PAID", 100) if "paid" in u]
    for edge in edges:  # drain: every balance goes back, every spend is reported
        edge.terminate()
    for edge in edges:
        assert edge.wait() in (0, -15)  # uvicorn re-raises SIGTERM after its shutdown
    reading = await meters.read(key)
    assert reading.granted == reading.spent == 5_000_000  # undershoot 0 after a drain
    ids = {click_id_in(u) for u in served}
    found = await consume_clicks(stack.kafka_bootstrap, ids)
    assert set(found) == ids and all(len(v) == 1 for v in found.values())
    assert {c.cost_micros for v in found.values() for c in v} == {100_000}
    for edge in edges:
        edge.start()


async def test_an_offer_click_cap_sends_the_rest_to_its_fallback(edges, redis):
    meters = Meters(redis, edges[0].prefix)
    day = time.strftime("%Y-%m-%d", time.gmtime())
    capped: list[str] = []
    async with clients(edges) as http:
        for _ in range(10):
            locations = await burst(http, "OFFERS", 80)
            capped += [u for u in locations if "/capped?" in u]
            assert all("/capped?" in u or "/spare?" in u for u in locations)
            assert len(capped) <= 30
            if len(capped) == 30:
                break
        assert len(capped) == 30
        assert all("/spare?" in u for u in await burst(http, "OFFERS", 40))
        clicky: list[str] = []
        for _ in range(10):
            locations = await burst(http, "CLICKY", 60)
            clicky += [u for u in locations if u.startswith("https://shop.example.com/clicky")]
            assert set(locations) - set(clicky) <= {"https://www.example.com/over"}
            assert len(clicky) <= 20
            if len(clicky) == 20:
                break
        assert len(clicky) == 20
    reading = await meters.read(meters.key("offer_clicks", "capped", day))
    assert reading.granted <= 30 and reading.exhausted


async def test_the_overlay_caps_an_offer_and_blocks_a_campaign(edges, redis):
    prefix = edges[0].prefix

    async def until(predicate: str, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            locations = await burst(http, "OVERLAID", 10)
            if all(predicate in u for u in locations):
                return
            assert time.monotonic() < deadline, locations
            await asyncio.sleep(0.2)

    async with clients(edges) as http:
        await until("/main?")
        await overlay.write(redis, prefix, {"main": Verdict("conversion_cap")}, {})
        await until("/alt?")
        await overlay.write(redis, prefix, {}, {"overlaid": Verdict("budget")})
        await until("https://www.example.com/over")
        await overlay.write(redis, prefix, {}, {})
        await until("/main?")


async def test_a_flushed_ledger_reseeded_never_hands_out_more_than_the_limit(edges, redis):
    meters = Meters(redis, edges[0].prefix)
    key = meters.key("budget", "flushed", TOTAL)
    served: list[str] = []
    async with clients(edges) as http:
        served += [u for u in await burst(http, "FLUSHED", 10) if "flushed" in u]
        # The ledger is lost (FLUSHALL, scoped to this meter and the ledger's marker so
        # the session's other data stays). Until the governor re-seeds, no edge takes:
        # each serves what it holds, then drops the rest at its next take.
        await redis.delete(key, seeded_key(edges[0].prefix))
        for _ in range(5):
            served += [u for u in await burst(http, "FLUSHED", 20) if "flushed" in u]
            await asyncio.sleep(0.3)
        assert (await meters.read(key)).granted == 0  # nothing taken from the lost ledger
        # The governor's re-seed: counted spend (every click served so far), then the mark.
        await meters.seed(key, len(served) * 100_000)
        await redis.set(seeded_key(edges[0].prefix), SEEDED)
        for _ in range(10):
            served += [u for u in await burst(http, "FLUSHED", 40) if "flushed" in u]
            assert (await meters.read(key)).granted <= 3_000_000
        overshoot = len(served) - 30
        # What the two edges held at the flush and served before their next take.
        assert overshoot <= 2 * MAX_BLOCK
        print(f"served {len(served)} of 30 after a flush: overshoot {overshoot}")
