"""Valkey restarted under an edge serving clicks (issue #15, "Valkey restarted").

A real `turnout edge` follows a graph on a Valkey of the test's own (persistent, so the
graph and the meters' seed survive the restart, as with a real server's AOF) while light
click load runs. Valkey is stopped for a few seconds and started again on the same port.
Measured: Valkey ready -> the edge's graph follower connected again (its connection in
CLIENT LIST), and a version
published right after the return -> served. The bar (the issue's): served within 2 s of the
publish; every click the edge redirected reaches Kafka exactly once; a CPC campaign whose
budget pays for 10 clicks serves at most 10 across the restart (overshoot 0).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import msgspec
import pytest
import redis.asyncio as aioredis

from tests.integration.edge_support import (
    DESKTOP,
    EXAMPLE,
    EdgeProcess,
    Sent,
    assert_safe,
    camp_a_load,
    click_id_or_none,
    consume_clicks,
    edge_client,
    fire,
    metric,
    publish,
)
from tests.integration.follower_support import clients_named, own_valkey, url_of
from turnout.config.io import load_graph
from turnout.config.model import BotPolicy, Budget, Graph
from turnout.local.services import LocalStack

pytestmark = pytest.mark.slow

OUTAGE_S = 3.0
PAID = "INSTA_SUMMER_01"  # CPC 0.045: its budget cut to 0.45 pays for exactly 10 clicks
PAID_CLICKS = 10
OVER_BUDGET = "https://www.example.com/offer-ended"  # its inactive policy
SERVED_WITHIN_S = 2.0
NEW_LANDER_PATH = "/after-restart"


def with_small_budget(graph: Graph) -> Graph:
    campaigns = tuple(
        msgspec.structs.replace(c, budget=Budget(amount="0.45"), redirect_mode="302",
                                bot_policy=BotPolicy())
        if c.code == PAID else c
        for c in graph.campaigns
    )
    return msgspec.structs.replace(graph, campaigns=campaigns)


def with_new_lander_url(graph: Graph) -> Graph:
    """`graph` with every lp.example.com lander moved under NEW_LANDER_PATH."""
    landers = tuple(
        msgspec.structs.replace(lander, url=lander.url.replace(
            "https://lp.example.com/", f"https://lp.example.com{NEW_LANDER_PATH}/"))
        for lander in graph.landers
    )
    return msgspec.structs.replace(graph, landers=landers)


async def light_load(client: httpx.AsyncClient, stop: asyncio.Event) -> list[Sent]:
    """About 100 clicks a second until `stop`, one in ten on the paid campaign."""
    sent: list[Sent] = []
    round_ = 0
    while not stop.is_set():
        batch = camp_a_load(10, f"valkey-restart-{round_}".encode())
        batch[0].path = f"/c/{PAID}"
        sent += await fire(client, batch, 2)
        round_ += 1
        await asyncio.sleep(0.1)
    return sent


async def until(check: Callable[[], Awaitable[bool]], timeout: float, step: float = 0.02,
                what: list[str] | None = None) -> float:
    """Poll the async `check` until it is true; the monotonic time it was (`what`: the
    answers seen, the last one told on failure)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await check():
            return time.monotonic()
        await asyncio.sleep(step)
    raise AssertionError(f"not within {timeout} s; last seen: {what[-1:] if what else ''}")


async def test_edge_follows_a_restarted_valkey(stack: LocalStack, kafka_bootstrap: str,
                                               tmp_path: Path) -> None:
    with own_valkey(tmp_path / "valkey", persist=True) as valkey:
        url = url_of(valkey)
        edge = EdgeProcess(stack, tmp_path / "edge", extra_env={"TURNOUT_REDIS_URL": url})
        edge.version, edge.graph = await publish(url, edge.prefix,
                                                 with_small_budget(load_graph(EXAMPLE)))
        edge.start()
        try:
            async with edge_client(edge) as client:
                stop = asyncio.Event()
                loading = asyncio.create_task(light_load(client, stop))
                await asyncio.sleep(1.0)

                async def connected() -> bool:
                    return await metric(client, "turnout_edge_graph_store_connected") == 1

                assert await connected()
                valkey.stop()
                await until(lambda: _not(connected), 10)
                await asyncio.sleep(OUTAGE_S)
                await asyncio.to_thread(valkey.start)
                ready = time.monotonic()
                version, _ = await publish(url, edge.prefix, with_new_lander_url(edge.graph))
                published = time.monotonic()
                admin = aioredis.Redis.from_url(url)
                try:
                    # The server's view: the follower's connection is back (the edge's
                    # /metrics gauge can be up to a second stale).
                    reconnected = await until(
                        lambda: _any(clients_named(admin, "turnout-graph-follower")), 10)
                finally:
                    await admin.aclose()
                assert await until(connected, 10)

                async def serves_new_version() -> bool:
                    answer = await client.get("/c/CAMP_A", headers={
                        "x-forwarded-for": "214.78.0.1", "user-agent": DESKTOP})
                    last.append(answer.headers.get("location", str(answer.status_code)))
                    return urlsplit(last[-1]).path.startswith(NEW_LANDER_PATH)

                last: list[str] = []
                served = await until(serves_new_version, 10, what=last)
                await asyncio.sleep(1.0)  # load after the return, too
                stop.set()
                sent = await loading
        finally:
            edge.stop()
    print(f"\nvalkey restart: ready -> follower reconnected {reconnected - ready:.3f} s; "
          f"publish (v{version}) -> served {served - published:.3f} s; "
          f"{len(sent)} clicks under load")
    paid = [s for s in sent if s.path == f"/c/{PAID}"]
    paid_served = [s for s in paid if s.status == 302 and s.location != OVER_BUDGET]
    print(f"paid campaign: {len(paid_served)} of {len(paid)} clicks served for a budget of "
          f"{PAID_CLICKS}: overshoot {max(0, len(paid_served) - PAID_CLICKS)}")
    assert served - published <= SERVED_WITHIN_S
    assert_safe(sent)
    assert len(paid_served) <= PAID_CLICKS  # overshoot 0 across the restart
    accepted = {cid for s in sent if s.status == 302 and (cid := click_id_or_none(s.location))}
    assert len(accepted) > 100
    found = await consume_clicks(kafka_bootstrap, accepted, timeout=30)
    assert set(found) == accepted, f"{len(accepted - set(found))} accepted clicks not in Kafka"
    assert all(len(events) == 1 for events in found.values()), "a click reached Kafka twice"


async def _any(entries: Awaitable[list[dict[str, str]]]) -> bool:
    return bool(await entries)


async def _not(check: Callable[[], Awaitable[bool]]) -> bool:
    return not await check()
