"""GraphStore against a real Valkey: publish, history, diff, rollback, races."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import msgspec
import pytest
import redis.asyncio as aioredis

from turnout.cli.main import main
from turnout.config import store as graph_store
from turnout.config.errors import GraphInvalid, VersionNotFound
from turnout.config.io import dump_graph, load_graph
from turnout.config.model import Graph
from turnout.config.store import GraphStore, checked
from turnout.errors import EXIT_BAD_INPUT, EXIT_UNAVAILABLE

EXAMPLES = Path(__file__).parents[2] / "config" / "examples"
EXAMPLE = load_graph(EXAMPLES / "graph.yaml")


def renamed(graph: Graph, name: str) -> Graph:
    first = msgspec.structs.replace(graph.campaigns[0], name=name)
    return msgspec.structs.replace(graph, campaigns=(first, *graph.campaigns[1:]))


@pytest.fixture
def prefix() -> str:
    return f"test:{uuid.uuid4().hex}"


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    connection = aioredis.from_url(redis_url)
    yield connection
    await connection.aclose()


@pytest.fixture
def store(client: aioredis.Redis, prefix: str) -> GraphStore:
    return GraphStore(client, prefix)


async def test_nothing_published_yet(store):
    assert await store.current_version() is None
    assert await store.load_current() is None
    assert await store.versions() == []
    with pytest.raises(VersionNotFound):
        await store.load(1)


async def test_publish_read_back_versions_diff_rollback(store, client, prefix):
    v1 = await store.publish(EXAMPLE, note="first")
    v2 = await store.publish(renamed(EXAMPLE, "Campaign A v2"), note="rename")
    assert (v1, v2) == (1, 2)
    assert await store.current_version() == 2
    assert await store.load(1) == EXAMPLE
    current = await store.load_current()
    assert current is not None and current[0] == 2
    assert current[1].campaigns[0].name == "Campaign A v2"

    infos = await store.versions()
    assert [(i.version, i.note) for i in infos] == [(1, "first"), (2, "rename")]
    assert infos[0].published_at_ms <= infos[1].published_at_ms

    assert await store.diff(1, 2) == [
        "campaigns[camp-a].name: 'Campaign A' -> 'Campaign A v2'"
    ]
    assert await store.diff(2, 2) == []

    v3 = await store.rollback(1, note="undo rename")
    assert v3 == 3
    assert await store.current_version() == 3
    assert await store.load(3) == EXAMPLE
    assert await store.load(2) != EXAMPLE  # history is not rewritten
    document = await store.document(3)
    assert (document.rolled_back_from, document.restores, document.note) == (2, 1, "undo rename")
    assert await store.diff(2, 3) == [
        "campaigns[camp-a].name: 'Campaign A v2' -> 'Campaign A'"
    ]
    # A version is a record and a manifest; each entity is a document of its own, shared
    # by the versions that did not change it.
    manifests = [msgspec.json.decode(await client.get(f"{prefix}:manifest:{n}"))["sections"]
                 for n in (1, 2)]
    (_, digest), *_ = manifests[0]["campaigns"]
    entity = msgspec.json.decode(await client.get(f"{prefix}:entity:{digest}"))
    assert entity["code"] == "CAMP_A"
    assert manifests[0]["offers"] == manifests[1]["offers"]
    assert manifests[0]["campaigns"][0] != manifests[1]["campaigns"][0]
    assert manifests[0]["campaigns"][1:] == manifests[1]["campaigns"][1:]
    assert (await store.info(2)).changes.upserted == {"campaigns": ("camp-a",)}


async def test_invalid_graph_publishes_nothing(store, client, prefix):
    broken = load_graph(EXAMPLES / "broken-graph.yaml")
    with pytest.raises(GraphInvalid) as info:
        await store.publish(broken)
    assert len(info.value.problems) == 5
    assert [key async for key in client.scan_iter(match=f"{prefix}:*")] == []
    assert await store.current_version() is None
    assert await store.publish(EXAMPLE) == 1  # no version number was used up


async def test_rollback_to_missing_version(store):
    await store.publish(EXAMPLE)
    with pytest.raises(VersionNotFound):
        await store.rollback(9)
    assert await store.current_version() == 1


async def test_pointer_never_moves_back_or_to_a_missing_document(store, prefix):
    await store.publish(EXAMPLE)
    await store.publish(EXAMPLE)
    # A slow publisher finishing late, and a version whose document was never written.
    assert await store._advance(keys=[f"{prefix}:current", f"{prefix}:version:1"],
                                args=[1, store.channel]) == 2
    assert await store._advance(keys=[f"{prefix}:current", f"{prefix}:version:3"],
                                args=[3, store.channel]) == 2
    assert await store.current_version() == 2


async def test_racing_publishers_leave_pointer_on_the_newest(redis_url, prefix):
    connections = [aioredis.from_url(redis_url) for _ in range(2)]
    stores = [GraphStore(connection, prefix) for connection in connections]
    observed: list[int] = []
    done = asyncio.Event()

    async def observe() -> None:
        while not done.is_set():
            version = await stores[0].current_version()
            if version is not None:
                observed.append(version)
                await stores[0].load(version)  # the pointer never names a missing document
            await asyncio.sleep(0)

    observer = asyncio.create_task(observe())
    try:
        published = await asyncio.gather(
            *(stores[i % 2].publish(renamed(EXAMPLE, f"racer {i}"), note=f"racer {i}")
              for i in range(20))
        )
    finally:
        done.set()
        await observer
    try:
        assert sorted(published) == list(range(1, 21))
        assert await stores[1].current_version() == 20
        assert observed and observed == sorted(observed)  # only ever forward
        infos = await stores[1].versions()
        assert [i.version for i in infos] == list(range(1, 21))
        for info in infos:
            graph = await stores[0].load(info.version)
            assert graph.campaigns[0].name == info.note
    finally:
        for connection in connections:
            await connection.aclose()


def test_cli_round_trip(redis_url, prefix, tmp_path, capsys):
    common = ["--redis-url", redis_url, "--prefix", prefix]
    example = str(EXAMPLES / "graph.yaml")
    assert main(["graph", "publish", example, "--note", "from cli", *common]) == 0
    assert capsys.readouterr().out.strip() == "1"

    changed = tmp_path / "changed.json"
    changed.write_text(dump_graph(renamed(EXAMPLE, "Renamed"), "json"))
    assert main(["graph", "publish", str(changed), *common]) == 0
    assert capsys.readouterr().out.strip() == "2"

    assert main(["graph", "versions", *common]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and "from cli" in lines[0] and lines[1].startswith("*")

    assert main(["graph", "diff", "1", "2", *common]) == 0
    assert capsys.readouterr().out.strip() == (
        "campaigns[camp-a].name: 'Campaign A' -> 'Renamed'"
    )

    assert main(["graph", "export", "--version", "1", "--format", "json", *common]) == 0
    assert load_graph(capsys.readouterr().out, "json") == EXAMPLE

    assert main(["graph", "rollback", "1", *common]) == 0
    assert capsys.readouterr().out.strip() == "3"
    assert main(["graph", "export", *common]) == 0
    assert load_graph(capsys.readouterr().out, "yaml") == EXAMPLE

    broken = str(EXAMPLES / "broken-graph.yaml")
    assert main(["graph", "publish", broken, *common]) == EXIT_BAD_INPUT
    assert "5 problem(s)" in capsys.readouterr().out
    assert main(["graph", "export", "--version", "9", *common]) == EXIT_BAD_INPUT
    assert "does not exist" in capsys.readouterr().err


def test_cli_reports_unreachable_redis(capsys):
    from turnout.local.services import free_port

    url = f"redis://127.0.0.1:{free_port()}/0"
    assert main(["graph", "versions", "--redis-url", url]) == EXIT_UNAVAILABLE
    assert "Redis unavailable" in capsys.readouterr().err


async def test_a_checked_graph_is_published_as_it_was_checked(store, monkeypatch):
    # `turnout graph publish` validates before connecting; the store does not again.
    ready = checked(renamed(EXAMPLE, "checked"))
    await store.publish(EXAMPLE)
    monkeypatch.setattr(graph_store, "validate", lambda *a: pytest.fail("validated again"))
    assert await store.publish(ready, note="checked") == 2
    assert await store.load(2) == ready.graph
    assert await store.manifest(2) == ready.manifest
    info = await store.info(2)
    assert (info.base, info.note, info.changes.upserted) == (
        1, "checked", {"campaigns": ("camp-a",)})


async def test_a_one_campaign_change_writes_one_document(store, client, prefix):
    await store.publish(EXAMPLE)
    before = {key async for key in client.scan_iter(match=f"{prefix}:entity:*")}
    await store.publish(renamed(EXAMPLE, "only this one"))
    after = {key async for key in client.scan_iter(match=f"{prefix}:entity:*")}
    assert len(after - before) == 1
    info = await store.info(2)
    assert (info.base, info.changes.upserted, info.changes.removed) == (
        1, {"campaigns": ("camp-a",)}, {})


async def test_retention_prunes_old_versions_and_only_their_documents(client, prefix):
    store = GraphStore(client, prefix, retain=3)
    versions = [await store.publish(renamed(EXAMPLE, f"name {i}")) for i in range(6)]
    assert [i.version for i in await store.versions()] == versions[-3:]
    for gone in versions[:-3]:
        with pytest.raises(VersionNotFound):
            await store.load(gone)
    with pytest.raises(VersionNotFound):
        await store.rollback(versions[0])
    for kept in versions[-3:]:
        graph = await store.load(kept)
        assert graph.campaigns[0].name == f"name {kept - 1}"
    # Documents: the shared ones once, plus one renamed campaign per kept version.
    shared = len(list((await store.manifest(versions[-1])).digests())) - 1
    documents = [key async for key in client.scan_iter(match=f"{prefix}:entity:*")]
    assert len(documents) == shared + 3
    assert await client.zcard(f"{prefix}:entities") == shared + 3
    # A rollback within retention brings the old graph back, sharing its documents.
    again = await store.rollback(versions[-3])
    assert (await store.load(again)).campaigns[0].name == f"name {versions[-3] - 1}"
