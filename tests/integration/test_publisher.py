"""control/publisher.py on real PostgreSQL and Valkey: commit, then publish; bursts
coalesce; two publishers never go back; a flushed Redis gets its version back; changes
stored but never published are published at start; a graph that does not validate is not
published, and the next good change is."""

from __future__ import annotations

import asyncio
import time

import msgspec
import psycopg
import pytest
import redis.asyncio as aioredis

from tests.integration.control_support import control_database
from tests.integration.e2e_support import example_in_workspace
from tests.integration.publish_support import eventually, prefix, publisher
from turnout.config.errors import GraphInvalid
from turnout.config.model import Campaign
from turnout.config.store import GraphStore
from turnout.control import versions
from turnout.control.graph_read import read_graph
from turnout.control.graph_write import import_graph, upsert_entity

GRAPH = example_in_workspace("pubws")


def renamed(campaign: Campaign, name: str) -> Campaign:
    return msgspec.structs.replace(campaign, name=name)


@pytest.fixture
async def url(postgres_url: str) -> str:
    url = control_database(postgres_url)
    async with await psycopg.AsyncConnection.connect(url) as conn:
        await import_graph(conn, GRAPH)
    return url


@pytest.fixture
def graph_prefix() -> str:
    return prefix()


async def stored(url: str):
    async with await psycopg.AsyncConnection.connect(url) as conn:
        return await read_graph(conn)


async def write(url: str, campaign: Campaign) -> None:
    async with await psycopg.AsyncConnection.connect(url) as conn:
        await upsert_entity(conn, campaign)


async def test_stored_graph_is_published_at_start_then_each_change(url, redis_url, graph_prefix):
    async with publisher(url, redis_url, graph_prefix) as pub:
        await pub.start()
        assert await pub.ready(20)
        store = pub.store
        await eventually(lambda: _current(store, 1))
        assert await store.load(1) == GRAPH
        info = await store.info(1)
        assert info.actor == "publisher"

        campaign = renamed(GRAPH.campaigns[0], "Renamed once")
        await write(url, campaign)
        pub.changed("pubws", "key1", "rename camp-a", {"campaigns": [campaign.id]})
        took = await eventually(lambda: _current(store, 2))
        assert took < 5.0  # a window (0.25 s) and a publish, on a quiet machine
        assert (await store.load(2)).campaigns[0].name == "Renamed once"
        info = await store.info(2)
        assert (info.actor, info.note) == ("key1", "rename camp-a")
        assert info.changes.upserted == {"campaigns": (campaign.id,)}

        async with await psycopg.AsyncConnection.connect(url) as conn:
            manifest, depth = await versions.manifest(conn, 2)
            assert manifest == await store.manifest(2)
            assert depth == 1  # stored as a delta from version 1
            row = await versions.row(conn, 2)
            assert row is not None and row.changed == {"campaigns": [campaign.id]}
            listed = await versions.listing(conn, "pubws")
            assert [v.version for v in listed] == [2, 1]
            assert listed[0].actors == ["key1"] and listed[0].notes == ["rename camp-a"]


async def _current(store: GraphStore, version: int) -> bool:
    return await store.current_version() == version


async def test_a_burst_gives_a_handful_of_versions(url, redis_url, graph_prefix):
    async with publisher(url, redis_url, graph_prefix) as pub:
        await pub.flush()
        first = await pub.store.current_version()
        campaign = GRAPH.campaigns[1]
        started = time.monotonic()
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
            for i in range(50):
                await upsert_entity(conn, renamed(campaign, f"burst {i}"))
                pub.changed("pubws", f"key{i % 3}", f"burst {i}", {"campaigns": [campaign.id]})
        burst = time.monotonic() - started
        await eventually(lambda: _named(pub.store, "burst 49"))
        await eventually(lambda: _settled(pub))
        published = await pub.store.current_version()
        assert first is not None and published is not None
        # One version per window at most while the burst lasts, and the one after it.
        assert 1 <= published - first <= burst / pub.window_s + 2, (published - first, burst)
        assert published - first < 25
        assert await pub.store.load(published) == await stored(url)
        # Every change's note is in its version (past ten: counted as "and N more").
        notes = [(await pub.store.info(v)).note.split("; ")
                 for v in range(first + 1, published + 1)]
        assert sum(len(n) - 1 + int(n[-1].split()[1]) if n[-1].startswith("and ") else len(n)
                   for n in notes) == 50


async def _settled(pub) -> bool:
    return not pub.pending


async def test_a_change_an_earlier_version_already_holds_is_named_in_it(url, redis_url,
                                                                       graph_prefix):
    """A change committed while a version was being read back is in that version before
    its writer announces it: its announcement publishes nothing, and the version that holds
    it names its actor and note."""
    first, second = GRAPH.campaigns[0], GRAPH.campaigns[1]
    async with publisher(url, redis_url, graph_prefix, watch_s=0.1) as pub:
        assert await pub.flush() == 1
        await write(url, renamed(first, "First"))
        await write(url, renamed(second, "Second"))  # committed, not announced yet
        pub.changed("pubws", "key1", "rename camp-a", {"campaigns": [first.id, second.id]})
        assert await pub.flush() == 2
        pub.changed("pubws", "key2", "rename camp-b", {"campaigns": [second.id]})
        assert await pub.flush() == 2  # nothing new to publish
        info = await pub.store.info(2)
        assert (info.actor, info.note) == ("key1,key2", "rename camp-a; rename camp-b")
        assert info.changes.upserted == {"campaigns": tuple(sorted((first.id, second.id)))}
        async with await psycopg.AsyncConnection.connect(url) as conn:
            row = await versions.row(conn, 2)
            assert row is not None and (row.actor, row.note) == (info.actor, info.note)
            (listed, _) = await versions.listing(conn, "pubws")
            assert listed.version == 2
            assert (listed.actors, listed.notes) == (["key1", "key2"],
                                                     ["rename camp-a", "rename camp-b"])
            assert listed.changed == {"campaigns": sorted((first.id, second.id))}
        # Redis lost: the version comes back from PostgreSQL with the same actor and note.
        keys = [k async for k in pub.store.redis.scan_iter(match=f"{graph_prefix}:*")]
        await pub.store.redis.delete(*keys)
        await pub.start()
        await eventually(lambda: _current(pub.store, 2))
        restored = await pub.store.info(2)
        assert (restored.actor, restored.note) == (info.actor, info.note)


async def _named(store: GraphStore, name: str) -> bool:
    current = await store.load_current()
    return current is not None and current[1].campaigns[1].name == name


async def test_two_publishers_never_publish_an_older_state(url, redis_url, graph_prefix):
    async with publisher(url, redis_url, graph_prefix) as a, \
            publisher(url, redis_url, graph_prefix) as b:
        await a.flush()
        await b.flush()
        campaign = GRAPH.campaigns[0]
        seen: list[str] = []
        for i in range(12):
            name = f"racer {i}"
            await write(url, renamed(campaign, name))
            (a if i % 2 else b).changed("pubws", "k", name, {"campaigns": [campaign.id]})
            if i % 3 == 2:
                await asyncio.gather(a.flush(), b.flush())
                current = await a.store.load_current()
                assert current is not None
                seen.append(current[1].campaigns[0].name)
        await asyncio.gather(a.flush(), b.flush())
        current = await a.store.load_current()
        assert current is not None and current[1] == await stored(url)
        # Every version after the first names a newer or equal state, never an older one.
        numbers = [int(n.split()[1]) for n in seen]
        assert numbers == sorted(numbers)
        async with await psycopg.AsyncConnection.connect(url) as conn:
            for version in range(1, current[0] + 1):
                assert (await versions.manifest(conn, version))[0] == \
                    await a.store.manifest(version)


async def test_a_flushed_redis_gets_the_latest_version_back(url, redis_url, graph_prefix):
    async with publisher(url, redis_url, graph_prefix, watch_s=0.1) as pub:
        await pub.start()
        await pub.ready(20)
        await eventually(lambda: _current(pub.store, 1))
        campaign = renamed(GRAPH.campaigns[0], "before the flush")
        await write(url, campaign)
        pub.changed("pubws", "k", "rename", {"campaigns": [campaign.id]})
        await eventually(lambda: _current(pub.store, 2))
        graph = await pub.store.load(2)
        client = aioredis.from_url(redis_url)
        keys = [k async for k in client.scan_iter(match=f"{graph_prefix}:*")]
        await client.delete(*keys)
        await client.aclose()
        took = await eventually(lambda: _current(pub.store, 2), timeout=10)
        assert await pub.store.load(2) == graph
        assert took < 5.0  # watch_s is 0.1: ~0.1 s on a quiet machine
        # The counter went past it: the next change is version 3.
        await write(url, renamed(campaign, "after the flush"))
        pub.changed("pubws", "k", "rename again", {"campaigns": [campaign.id]})
        await eventually(lambda: _current(pub.store, 3))


async def test_a_change_nobody_published_is_published_at_the_next_start(url, redis_url,
                                                                          graph_prefix):
    async with publisher(url, redis_url, graph_prefix) as pub:
        assert await pub.flush() == 1
    await write(url, renamed(GRAPH.campaigns[2], "committed, then the process died"))
    async with publisher(url, redis_url, graph_prefix) as pub:
        assert await pub.flush() == 2
        assert (await pub.store.load(2)).campaigns[2].name == "committed, then the process died"
        assert (await pub.store.info(2)).actor == "publisher"


async def test_a_stored_graph_that_does_not_validate_is_held_back(url, redis_url, graph_prefix):
    async with publisher(url, redis_url, graph_prefix) as pub:
        assert await pub.flush() == 1
        async with await psycopg.AsyncConnection.connect(url) as conn:
            # A lander destination whose CTA count the schema cannot check.
            await conn.execute("UPDATE landers SET cta_count = 3 WHERE id = 'lp-usa'")
        pub.changed("pubws", "k", "lander", {"landers": ["lp-usa"]})
        with pytest.raises(GraphInvalid):
            await pub.flush()
        assert pub.held_back and await pub.store.current_version() == 1
        async with await psycopg.AsyncConnection.connect(url) as conn:
            await conn.execute("UPDATE landers SET cta_count = 1 WHERE id = 'lp-usa'")
        campaign = renamed(GRAPH.campaigns[0], "next good change")
        await write(url, campaign)
        pub.changed("pubws", "k", "rename", {"campaigns": [campaign.id]})
        assert await pub.flush() == 2
        assert not pub.held_back
        assert await pub.store.load(2) == await stored(url)
