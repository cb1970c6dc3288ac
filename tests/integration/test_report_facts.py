"""FactsCache on a real Valkey: workspace facts of the published graph, kept current by one
follower connection, and kept as they were while Redis is away."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable

import msgspec
import pytest
import redis.asyncio as aioredis

from tests.integration.follower_support import (
    EXAMPLES,
    clients_named,
    connections_received,
    own_valkey,
    publish_silently,
    url_of,
)
from turnout.config.io import load_graph
from turnout.config.model import Graph
from turnout.config.store import GraphStore
from turnout.local.services import free_port
from turnout.reports.errors import FactsMissing
from turnout.reports.workspaces import FactsCache, GraphFacts

EXAMPLE = load_graph(EXAMPLES / "graph.yaml")


def in_timezone(graph: Graph, timezone: str) -> Graph:
    workspaces = tuple(msgspec.structs.replace(w, timezone=timezone) for w in graph.workspaces)
    return msgspec.structs.replace(graph, workspaces=workspaces)


async def until(check: Callable[[], Awaitable[bool]], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def test_facts_follow_publishes_on_one_connection(tmp_path):
    prefix = f"test:{uuid.uuid4().hex}"
    with own_valkey(tmp_path) as service:
        admin = aioredis.from_url(url_of(service))
        store = GraphStore(admin, prefix)
        facts = FactsCache(url_of(service), prefix, ttl_s=30.0)
        try:
            assert await facts.get() == GraphFacts()  # nothing published: UTC, no currency
            await store.publish(EXAMPLE)
            # A publish shows long before the 30 s TTL: the notice brings it.
            await until(lambda: _version_is(facts, 1))
            acme = (await facts.get()).workspace("acme")
            assert (acme.timezone, acme.currency) == ("Europe/Berlin", "EUR")
            with pytest.raises(FactsMissing):  # never answered in UTC with no currency
                (await facts.get()).workspace("nobody")

            [before] = await clients_named(admin, "turnout-graph-facts")
            received = await connections_received(admin)
            for _ in range(200):
                await facts.get()
            await store.publish(in_timezone(EXAMPLE, "Asia/Tokyo"))
            await until(lambda: _timezone_is(facts, "Asia/Tokyo"))
            [after] = await clients_named(admin, "turnout-graph-facts")
            assert after["id"] == before["id"]
            assert await connections_received(admin) == received

            service.stop()
            started = time.monotonic()
            assert (await facts.get()).workspace("acme").timezone == "Asia/Tokyo"
            assert time.monotonic() - started < 0.5  # Redis away: answers at once, as before
        finally:
            await facts.aclose()
            await admin.aclose()


async def test_a_lost_notice_shows_within_the_ttl(tmp_path):
    prefix = f"test:{uuid.uuid4().hex}"
    with own_valkey(tmp_path) as service:
        admin = aioredis.from_url(url_of(service))
        facts = FactsCache(url_of(service), prefix, ttl_s=0.3)
        try:
            await GraphStore(admin, prefix).publish(EXAMPLE)
            assert (await facts.get()).version == 1  # the first get waits for the facts
            await publish_silently(admin, prefix, in_timezone(EXAMPLE, "America/Lima"))
            await until(lambda: _timezone_is(facts, "America/Lima"), timeout=3.0)
        finally:
            await facts.aclose()
            await admin.aclose()


async def test_unreachable_redis_gives_default_facts_quickly():
    facts = FactsCache(f"redis://127.0.0.1:{free_port()}/0", "nowhere")
    try:
        started = time.monotonic()
        assert await facts.get() == GraphFacts()
        assert time.monotonic() - started < 2.0
    finally:
        await facts.aclose()


async def _version_is(facts: FactsCache, version: int) -> bool:
    return (await facts.get()).version == version


async def _timezone_is(facts: FactsCache, timezone: str) -> bool:
    return (await facts.get()).workspace("acme").timezone == timezone
