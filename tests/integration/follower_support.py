"""Helpers for tests of the graph follower and its users: a Valkey of the test's own (its
connections can be killed and it can be restarted without disturbing other tests), a
publish whose notice is lost, and the server's view of the follower's connection."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from pathlib import Path

import msgspec
import redis.asyncio as aioredis

from turnout.config.errors import StoreUnavailable
from turnout.config.manifest import manifest_of
from turnout.config.model import Graph
from turnout.config.store import GraphKeys, GraphStore, VersionInfo
from turnout.local.services import Service, valkey

EXAMPLES = Path(__file__).parents[2] / "config" / "examples"


@contextlib.contextmanager
def own_valkey(tmp_path: Path, persist: bool = False) -> Iterator[Service]:
    service = valkey(tmp_path, persist=persist)
    service.start()
    try:
        yield service
    finally:
        service.stop()


def url_of(service: Service) -> str:
    return f"redis://127.0.0.1:{service.port}/0"


def renamed(graph: Graph, name: str) -> Graph:
    first = msgspec.structs.replace(graph.campaigns[0], name=name)
    return msgspec.structs.replace(graph, campaigns=(first, *graph.campaigns[1:]))


async def publish_retrying(store: GraphStore, graph: Graph) -> int:
    for _ in range(50):
        try:
            return await store.publish(graph)
        except StoreUnavailable:
            await asyncio.sleep(0.1)
    raise AssertionError("Redis did not come back")


async def publish_silently(client: aioredis.Redis, prefix: str, graph: Graph) -> int:
    """What a publish whose notice was lost leaves behind: its documents, record and
    manifest, the pointer on it, and nothing on the channel. (No validation: a test may
    store a broken graph.)"""
    keys = GraphKeys(prefix)
    version = int(await client.incr(keys.seq))
    manifest, documents = manifest_of(graph)
    for digest, document in documents.items():
        await client.set(keys.entity(digest), document)
    info = VersionInfo(version=version, published_at_ms=0)
    await client.set(keys.version(version), msgspec.json.encode(info))
    await client.set(keys.manifest(version), msgspec.json.encode(manifest))
    await client.set(keys.current, version)
    return version


async def clients_named(admin: aioredis.Redis, name: str) -> list[dict[str, str]]:
    """CLIENT LIST entries of the connections that gave themselves `name`."""
    return [entry for entry in await admin.client_list() if entry.get("name") == name]


async def clients_gone(admin: aioredis.Redis, name: str, timeout: float = 3.0
                       ) -> list[dict[str, str]]:
    """The connections named `name` still listed after waiting up to `timeout` s for them
    to go: a client's close reaches the server a moment after the client returns, later
    on a busy machine; a connection really left open stays listed."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while (left := await clients_named(admin, name)) and loop.time() < deadline:
        await asyncio.sleep(0.05)
    return left


async def connections_received(admin: aioredis.Redis) -> int:
    return int((await admin.info("stats"))["total_connections_received"])
