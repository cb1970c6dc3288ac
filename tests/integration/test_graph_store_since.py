"""GraphStore.publish_since (what the control plane's publisher calls) and restore, on a
real Valkey: only the change is encoded and validated, nothing is published when nothing
changed, and a version Redis lost comes back under its own number."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import msgspec
import pytest
import redis.asyncio as aioredis

from turnout.config.errors import GraphInvalid
from turnout.config.io import load_graph
from turnout.config.manifest import manifest_of
from turnout.config.model import Graph
from turnout.config.store import GraphStore, Since
from turnout.config.validate import validate

EXAMPLE = load_graph(Path(__file__).parents[2] / "config" / "examples" / "graph.yaml")


def with_campaign(graph: Graph, index: int, **changes: object) -> Graph:
    campaigns = list(graph.campaigns)
    campaigns[index] = msgspec.structs.replace(campaigns[index], **changes)
    return msgspec.structs.replace(graph, campaigns=tuple(campaigns))


async def lose_everything(store: GraphStore) -> None:
    """What a flushed Redis looks like to this store (other tests share the server)."""
    keys = [key async for key in store.redis.scan_iter(match=f"{store.prefix}:*")]
    if keys:
        await store.redis.delete(*keys)


@pytest.fixture
async def store(redis_url: str) -> AsyncIterator[GraphStore]:
    client = aioredis.from_url(redis_url)
    yield GraphStore(client, f"test:{uuid.uuid4().hex}")
    await client.aclose()


async def test_publish_since_publishes_the_change_only(store):
    first = await store.publish_since(EXAMPLE, None, note="first", actor="k1")
    assert first is not None and first.version == 1
    assert set(first.documents) == set(manifest_of(EXAMPLE)[1])  # a first version: all

    changed = with_campaign(EXAMPLE, 1, name="Summer v2")
    since = Since(1, {"campaigns": {"summer"}})
    second = await store.publish_since(changed, since, note="rename", actor="k2")
    assert second is not None and second.version == 2
    assert second.info.changes.upserted == {"campaigns": ("summer",)}
    assert second.info.base == 1 and second.info.actor == "k2"
    assert len(second.documents) == 1  # one new document, the campaign's
    assert await store.load(2) == changed
    assert second.manifest == manifest_of(changed)[0]


async def test_nothing_changed_publishes_nothing(store):
    await store.publish(EXAMPLE)
    assert await store.publish_since(EXAMPLE, Since(1, {"campaigns": {"camp-a"}})) is None
    assert await store.publish_since(EXAMPLE, None) is None
    assert await store.current_version() == 1


async def test_a_broken_change_is_refused_with_every_problem(store):
    await store.publish(EXAMPLE)
    broken = with_campaign(EXAMPLE, 2, code=EXAMPLE.campaigns[0].code, traffic_source="tv")
    with pytest.raises(GraphInvalid) as info:
        await store.publish_since(broken, Since(1, {"campaigns": {"summer-stories"}}))
    assert info.value.problems == validate(broken)
    assert len(info.value.problems) == 2
    assert await store.current_version() == 1


async def test_a_stale_since_falls_back_to_the_whole_graph(store):
    """`since` names version 1 but 2 is current: what it claims is not trusted."""
    await store.publish(EXAMPLE)
    renamed = with_campaign(EXAMPLE, 0, name="Renamed")
    await store.publish(renamed)
    back = await store.publish_since(EXAMPLE, Since(1, {}))
    assert back is not None and back.info.changes.upserted == {"campaigns": ("camp-a",)}
    assert await store.load(back.version) == EXAMPLE


async def test_restore_after_a_flush_keeps_the_number(store):
    published = await store.publish_since(EXAMPLE, None)
    changed = with_campaign(EXAMPLE, 0, name="Renamed")
    second = await store.publish_since(changed, Since(1, {"campaigns": {"camp-a"}}))
    assert published is not None and second is not None
    documents = {**published.documents, **second.documents}
    await lose_everything(store)
    assert await store.current_version() is None

    assert await store.restore(second.info, second.manifest, documents) == 2
    assert await store.current_version() == 2
    assert await store.load(2) == changed
    assert (await store.info(2)).changes == second.info.changes
    # The counter moved past it: the next version is 3, relative to the restored one.
    third = await store.publish_since(EXAMPLE, Since(2, {"campaigns": {"camp-a"}}))
    assert third is not None and third.version == 3 and third.info.base == 2


async def test_restore_never_moves_the_pointer_back(store):
    first = await store.publish_since(EXAMPLE, None)
    await store.publish(with_campaign(EXAMPLE, 0, name="Newer"))
    assert first is not None
    assert await store.restore(first.info, first.manifest, first.documents) == 2
    assert await store.current_version() == 2


async def test_restore_refuses_a_version_without_its_documents(store):
    first = await store.publish_since(EXAMPLE, None)
    assert first is not None
    await lose_everything(store)
    partial = dict(list(first.documents.items())[1:])
    with pytest.raises(Exception, match="missing"):
        await store.restore(first.info, first.manifest, partial)
    assert await store.current_version() is None
