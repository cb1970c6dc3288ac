"""The edge's GraphHolder on a real Valkey: it swaps on publish, skips a version that does
not compile, and keeps serving its graph while Redis is away."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable

import msgspec
import redis.asyncio as aioredis

from tests.integration.follower_support import (
    EXAMPLES,
    own_valkey,
    publish_retrying,
    publish_silently,
    renamed,
    url_of,
)
from turnout.backoff import Backoff
from turnout.config.io import load_graph
from turnout.config.store import GraphStore
from turnout.edge.graph import GraphHolder

EXAMPLE = load_graph(EXAMPLES / "graph.yaml")


async def until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.02)


async def test_holder_swaps_skips_a_broken_version_and_outlives_redis(tmp_path):
    prefix = f"test:{uuid.uuid4().hex}"
    with own_valkey(tmp_path, persist=True) as service:
        url = url_of(service)
        admin = aioredis.from_url(url)
        store = GraphStore(admin, prefix)
        holder = GraphHolder(url, prefix, recheck_seconds=0.2, backoff=Backoff(base=0.1, cap=0.2))
        try:
            await holder.start(wait=0.2)
            assert holder.snapshot is None and holder.connected  # nothing published yet
            await store.publish(EXAMPLE)
            await until(lambda: holder.version == 1)
            first = holder.snapshot
            assert first is not None and holder.swaps == 1

            broken = load_graph(EXAMPLES / "broken-graph.yaml")
            assert await publish_silently(admin, prefix, broken) == 2
            await asyncio.sleep(0.6)  # polled more than once: the follower lives on
            assert holder.snapshot is first and holder.swaps == 1

            await store.publish(renamed(EXAMPLE, "third"))
            await until(lambda: holder.version == 3)
            third = holder.snapshot
            assert third is not None and third.graph.campaigns_by_id["camp-a"].name == "third"

            service.stop()
            await until(lambda: not holder.connected)
            assert holder.snapshot is third  # Redis away: the last graph stays

            service.start()
            await until(lambda: holder.connected)
            assert await publish_retrying(store, renamed(EXAMPLE, "fourth")) == 4
            await until(lambda: holder.version == 4)
            assert holder.swaps == 3
        finally:
            await holder.stop()
            await admin.aclose()


async def test_holder_compiles_only_what_a_version_changed(tmp_path, redis_url):
    prefix = f"test:{uuid.uuid4().hex}"
    admin = aioredis.from_url(redis_url)
    store = GraphStore(admin, prefix)
    holder = GraphHolder(redis_url, prefix, recheck_seconds=0.2, backoff=Backoff(base=0.1, cap=0.2))
    try:
        await store.publish(EXAMPLE)
        await holder.start(wait=5)
        first = holder.snapshot
        assert first is not None and holder.last_compiled == len(EXAMPLE.campaigns)
        assert holder.last_change is None  # a first load is compiled whole

        await store.publish(renamed(EXAMPLE, "renamed"))
        await until(lambda: holder.version == 2)
        second = holder.snapshot
        assert second is not None and holder.last_compiled == 1
        assert holder.last_change is not None
        assert holder.last_change.upserted == {"campaigns": ("camp-a",)}
        for cid, campaign in second.graph.campaigns_by_id.items():
            same = campaign is first.graph.campaigns_by_id[cid]
            assert same == (cid != "camp-a"), cid
        assert second.graph.campaigns_by_id["camp-a"].name == "renamed"

        # An offer's payout changes: exactly the campaigns leading to it are compiled.
        offers = list(EXAMPLE.offers)
        offers[0] = msgspec.structs.replace(offers[0], payout="99")
        await store.publish(msgspec.structs.replace(EXAMPLE, offers=tuple(offers)))
        await until(lambda: holder.version == 3)
        third = holder.snapshot
        assert third is not None
        users = {c.id for c in third.graph.campaigns_by_id.values()
                 if third.graph.campaigns_by_id[c.id] is not second.graph.campaigns_by_id[c.id]}
        assert holder.last_compiled == len(users | {"camp-a"}) and users
        assert third.graph.offers_by_id[offers[0].id].payout_micros == 99_000_000
    finally:
        await holder.stop()
        await admin.aclose()
