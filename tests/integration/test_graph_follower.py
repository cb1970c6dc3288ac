"""GraphFollower against a real Valkey: publishes reach it, a lost notice is caught up on
reconnect, and it holds one connection however often it polls."""

from __future__ import annotations

import asyncio
import contextlib
import random
import uuid
from collections.abc import AsyncIterator
from typing import Any

import redis.asyncio as aioredis

from tests.integration.follower_support import (
    EXAMPLES,
    clients_gone,
    clients_named,
    connections_received,
    own_valkey,
    publish_retrying,
    publish_silently,
    renamed,
    url_of,
)
from turnout.backoff import Backoff
from turnout.config.follower import GraphFollower
from turnout.config.io import load_graph
from turnout.config.store import GraphStore, VersionDocument

EXAMPLE = load_graph(EXAMPLES / "graph.yaml")
QUICK = Backoff(base=0.05, cap=0.2)


@contextlib.asynccontextmanager
async def following(url: str, prefix: str, **options: Any
                    ) -> AsyncIterator[tuple[GraphFollower, asyncio.Queue[VersionDocument]]]:
    """A follower running in a task of its own, handing its documents to a queue (waiting
    on the queue with a timeout cannot cancel the follower midway)."""
    follower = GraphFollower(url, prefix, **options)
    seen: asyncio.Queue[VersionDocument] = asyncio.Queue()

    async def run() -> None:
        async with contextlib.aclosing(follower.follow()) as documents:
            async for document in documents:
                seen.put_nowait(document)

    task = asyncio.create_task(run())
    try:
        yield follower, seen
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            async with asyncio.timeout(5):
                await task


async def next_version(seen: asyncio.Queue[VersionDocument], timeout: float = 5) -> int:
    return (await asyncio.wait_for(seen.get(), timeout)).version


async def nothing_more(seen: asyncio.Queue[VersionDocument], wait: float = 0.5) -> bool:
    await asyncio.sleep(wait)
    return seen.empty()


def _prefix() -> str:
    return f"test:{uuid.uuid4().hex}"


async def test_follow_yields_current_then_each_publish(tmp_path):
    prefix = _prefix()
    with own_valkey(tmp_path) as service:
        client = aioredis.from_url(url_of(service))
        store = GraphStore(client, prefix)
        try:
            await store.publish(EXAMPLE)
            async with following(url_of(service), prefix) as (_, seen):
                assert await next_version(seen) == 1
                publisher = asyncio.create_task(store.publish(renamed(EXAMPLE, "watched")))
                document = await asyncio.wait_for(seen.get(), 5)
                assert document.version == 2
                assert document.graph.campaigns[0].name == "watched"
                assert await publisher == 2
                assert await nothing_more(seen)
        finally:
            await client.aclose()


async def test_nothing_published_yet_then_a_first_publish(tmp_path):
    prefix = _prefix()
    with own_valkey(tmp_path) as service:
        client = aioredis.from_url(url_of(service))
        try:
            async with following(url_of(service), prefix, poll_interval=0.1) as (follower, seen):
                assert await follower.caught_up(5)
                assert follower.connected
                assert await nothing_more(seen)
                await GraphStore(client, prefix).publish(EXAMPLE)
                assert await next_version(seen) == 1
        finally:
            await client.aclose()


async def test_follow_survives_dropped_connections(tmp_path):
    with own_valkey(tmp_path) as service:
        url = url_of(service)
        client, admin = aioredis.from_url(url), aioredis.from_url(url)
        store = GraphStore(client)
        try:
            async with following(url, "turnout:graph", poll_interval=0.2,
                                 backoff=QUICK) as (_, seen):
                assert await store.publish(EXAMPLE) == 1
                assert await next_version(seen) == 1
                assert await admin.execute_command("CLIENT", "KILL", "TYPE", "pubsub") == 1
                await admin.execute_command("CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes")
                # Published while the follower's subscription is gone: the pointer check
                # finds it.
                assert await publish_retrying(store, renamed(EXAMPLE, "while cut off")) == 2
                assert await next_version(seen, 10) == 2
                assert await store.publish(renamed(EXAMPLE, "and again")) == 3
                assert await next_version(seen) == 3
                assert await nothing_more(seen)  # polls after reconnecting repeat nothing
        finally:
            await client.aclose()
            await admin.aclose()


async def test_a_lost_notice_is_caught_up_after_client_kill(tmp_path):
    prefix = _prefix()
    with own_valkey(tmp_path) as service:
        admin = aioredis.from_url(url_of(service))
        try:
            # No poll within the test: only the read after reconnecting can find it.
            async with following(url_of(service), prefix, poll_interval=3600,
                                 backoff=QUICK) as (_, seen):
                await GraphStore(admin, prefix).publish(EXAMPLE)
                assert await next_version(seen) == 1
                assert await publish_silently(admin, prefix, renamed(EXAMPLE, "quiet")) == 2
                assert await nothing_more(seen)
                assert await admin.execute_command("CLIENT", "KILL", "TYPE", "pubsub") == 1
                document = await asyncio.wait_for(seen.get(), 5)
                assert (document.version, document.graph.campaigns[0].name) == (2, "quiet")
                assert await nothing_more(seen)
        finally:
            await admin.aclose()


async def test_a_lost_notice_is_caught_up_after_a_restart(tmp_path):
    prefix = _prefix()
    with own_valkey(tmp_path, persist=True) as service:
        url = url_of(service)
        admin = aioredis.from_url(url)
        try:
            async with following(url, prefix, poll_interval=3600,
                                 backoff=QUICK) as (follower, seen):
                await GraphStore(admin, prefix).publish(EXAMPLE)
                assert await next_version(seen) == 1
                assert await publish_silently(admin, prefix, renamed(EXAMPLE, "quiet")) == 2
                assert await nothing_more(seen)
                service.stop()
                await asyncio.sleep(0.5)  # the follower notices and keeps trying
                assert not follower.connected
                service.start()
                assert await next_version(seen, 10) == 2
                assert follower.connected
                assert await nothing_more(seen)
        finally:
            await admin.aclose()


async def test_one_connection_however_often_it_polls(tmp_path):
    prefix, name = _prefix(), f"follower-{uuid.uuid4().hex[:8]}"
    with own_valkey(tmp_path) as service:
        admin = aioredis.from_url(url_of(service))
        store = GraphStore(admin, prefix)
        try:
            async with following(url_of(service), prefix, poll_interval=0.02,
                                 name=name) as (_, seen):
                await store.publish(EXAMPLE)
                assert await next_version(seen) == 1
                [before] = await clients_named(admin, name)
                received = await connections_received(admin)
                for n in range(2, 5):
                    await store.publish(renamed(EXAMPLE, f"v{n}"))
                    assert await next_version(seen) == n
                await asyncio.sleep(1.0)  # about fifty polls
                [after] = await clients_named(admin, name)
                assert after["id"] == before["id"]  # the same connection throughout
                assert int(after["tot-cmds"]) - int(before["tot-cmds"]) >= 20  # it did poll
                assert (after["sub"], after["resp"]) == ("1", "3")  # subscribed, RESP3
                assert await connections_received(admin) == received
                assert await nothing_more(seen, 0.1)
            assert await clients_gone(admin, name) == []  # closed with the follower
        finally:
            await admin.aclose()


async def test_a_cancelled_follower_always_stops(tmp_path):
    # Cancelled at random moments of a busy poll loop, it must end every time (a lost
    # cancellation leaves it polling forever; see turnout.config.link).
    prefix = _prefix()
    draws = random.Random(11)
    with own_valkey(tmp_path) as service:
        admin = aioredis.from_url(url_of(service))
        try:
            await GraphStore(admin, prefix).publish(EXAMPLE)
            for _ in range(100):
                async with following(url_of(service), prefix, poll_interval=0) as (_, seen):
                    assert await next_version(seen) == 1
                    await asyncio.sleep(draws.random() * 0.01)
                # `following` cancels it on the way out; waiting for it must not hang
            assert await clients_gone(admin, "turnout-graph-follower") == []
        finally:
            await admin.aclose()
