"""The control plane end to end: `turnout api` (real uvicorn) on real PostgreSQL, Valkey
and chdb, and a real `turnout edge` process following what it publishes.

- a change through the API is served by the edge within a second (measured; asserted
  generously, the figures are printed);
- 50 changes in a burst give a handful of versions, and the edge serves the last;
- `turnout graph publish examples/graph.yaml` straight to Redis and the same file through
  the API publish equal graphs; `turnout import`/`export` round-trip;
- a flushed Redis: edges keep serving, the API puts the version back, changes flow again;
- PostgreSQL stopped: the admin API answers 503 with the reason, the edge and the report
  API keep working, writes work again after the restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis

from tests.integration.admin_support import (
    bearer,
    clickhouse_database,
    make_key,
    make_workspaces,
)
from tests.integration.control_support import control_database
from tests.integration.edge_support import DESKTOP, EdgeProcess
from tests.integration.publish_support import api_server, eventually, prefix
from turnout.api.settings import ApiSettings
from turnout.cli.main import main
from turnout.config import examples
from turnout.config.io import load_graph
from turnout.config.store import GraphStore
from turnout.control.migrate import migrate
from turnout.local.services import LocalStack, postgres

US = {"X-Forwarded-For": "214.78.0.1", "User-Agent": DESKTOP}
EXAMPLE = load_graph(examples.GRAPH)


@pytest.fixture(scope="module")
def chdb_database(clickhouse_dsn: str) -> Iterator[tuple[str, str]]:
    with clickhouse_database(clickhouse_dsn, "admin_publish") as found:
        yield found


@dataclass
class World:
    api: httpx.AsyncClient
    edge: httpx.AsyncClient
    url: str  # the API's
    token: str
    prefix: str
    redis_url: str
    store: GraphStore

    async def campaign(self, campaign_id: str) -> dict[str, Any]:
        answer = await self.api.get(f"/api/v1/campaigns/{campaign_id}")
        assert answer.status_code == 200, answer.text
        return dict(answer.json())

    async def act(self, campaign_id: str, action: str) -> httpx.Response:
        revision = (await self.campaign(campaign_id))["revision"]
        return await self.api.post(f"/api/v1/campaigns/{campaign_id}/{action}",
                                   headers={"If-Match": f'"{revision}"'})

    async def click(self, code: str = "CAMP_A") -> httpx.Response:
        return await self.edge.get(f"/c/{code}", headers=US)


@contextlib.asynccontextmanager
async def world_on(url: str, redis_url: str, chdb: tuple[str, str], stack: LocalStack,
                   directory: Path) -> AsyncIterator[World]:
    """The API on control database `url` with the example imported, an edge following it."""
    await make_workspaces(url, "acme")
    token = await make_key(url, "acme", "owner")
    graph_prefix = prefix()
    settings = ApiSettings(postgres_url=url, redis_url=redis_url, clickhouse_dsn=chdb[0],
                           database=chdb[1], graph_prefix=graph_prefix, pool_size=1,
                           rate_per_minute=1_000_000, publish_watch_s=0.2)
    async with api_server(settings) as api_url, \
            httpx.AsyncClient(base_url=api_url, headers=bearer(token), timeout=30) as api:
        imported = await api.post("/api/v1/import", content=examples.GRAPH.read_bytes(),
                                  headers={"Content-Type": "application/yaml"})
        assert imported.status_code == 200 and imported.json()["version"], imported.text
        edge = EdgeProcess(stack, directory, prefix=graph_prefix)
        edge.start()
        client = aioredis.from_url(redis_url)
        try:
            async with httpx.AsyncClient(base_url=edge.base_url, timeout=10) as edge_http:
                yield World(api, edge_http, api_url, token, graph_prefix, redis_url,
                            GraphStore(client, graph_prefix))
        finally:
            edge.stop()
            await client.aclose()


@pytest.fixture
async def world(postgres_url, redis_url, chdb_database, stack, tmp_path) -> AsyncIterator[World]:
    async with world_on(control_database(postgres_url), redis_url, chdb_database, stack,
                        tmp_path / "edge") as made:
        yield made


async def served(world: World, status: int, code: str = "CAMP_A") -> bool:
    return (await world.click(code)).status_code == status


async def test_a_change_through_the_api_is_served_by_the_edge_within_a_second(world):
    assert (await world.click()).status_code == 302
    took: list[float] = []
    for action, status in (("pause", 404), ("resume", 302)) * 3:
        started = time.monotonic()
        answer = await world.act("camp-a", action)
        assert answer.status_code == 200, answer.text
        await eventually(lambda status=status: served(world, status), timeout=10, step=0.005)
        took.append(time.monotonic() - started)
    print(f"\nchange -> edge serving it: median {statistics.median(took) * 1000:.0f} ms, "
          f"max {max(took) * 1000:.0f} ms over {len(took)} changes")
    assert max(took) < 5.0  # the goal is < 1 s; a loaded CI machine gets slack


async def test_a_burst_of_50_changes_gives_a_handful_of_versions(world):
    assert (await world.act("camp-a", "pause")).status_code == 200
    await eventually(lambda: served(world, 404))
    first = await world.store.current_version()
    revision = (await world.campaign("camp-a"))["revision"]
    started = time.monotonic()
    for i in range(50):
        answer = await world.api.patch(
            "/api/v1/campaigns/camp-a",
            json={"inactive": {"action": "url", "url": f"https://www.example.com/?n={i}"}},
            headers={"If-Match": f'"{revision}"'})
        assert answer.status_code == 200, answer.text
        revision = answer.json()["revision"]
    burst = time.monotonic() - started

    async def last_served() -> bool:
        answer = await world.click()
        return answer.status_code == 302 and answer.headers["location"].endswith("n=49")

    await eventually(last_served, timeout=10)
    last = await world.store.current_version()
    assert first is not None and last is not None
    versions = last - first
    print(f"\n50 changes in {burst:.2f} s: {versions} version(s)")
    assert 1 <= versions <= burst / 0.25 + 2 and versions < 25
    listed = await world.api.get("/api/v1/versions", params={"limit": 100})
    mine = [item for item in listed.json()["items"] if item["version"] > first]
    assert len(mine) == versions
    assert all(item["changed"] == {"campaigns": ["camp-a"]} for item in mine)
    assert all(item["notes"] == ["update campaigns camp-a"] for item in mine)


async def test_cli_publish_through_the_api_equals_publishing_straight_to_redis(
        world, monkeypatch, tmp_path):
    direct = prefix()
    code = await asyncio.to_thread(main, ["graph", "publish", str(examples.GRAPH),
                                          "--redis-url", world.redis_url, "--prefix", direct])
    assert code == 0
    client = aioredis.from_url(world.redis_url)
    try:
        straight = await GraphStore(client, direct).load_current()
    finally:
        await client.aclose()
    through = await world.store.load_current()
    assert straight is not None and through is not None
    assert straight[1] == through[1] == EXAMPLE

    monkeypatch.setenv("TURNOUT_API_URL", world.url)
    monkeypatch.setenv("TURNOUT_API_KEY", world.token)
    changed = tmp_path / "changed.yaml"
    changed.write_text(examples.GRAPH.read_text().replace("name: Campaign A",
                                                          "name: Campaign A2", 1))
    assert await asyncio.to_thread(main, ["graph", "publish", str(changed)]) == 0
    current = await world.store.load_current()
    assert current is not None and current[1].campaigns[0].name == "Campaign A2"
    exported = tmp_path / "exported.yaml"
    assert await asyncio.to_thread(main, ["export", "--out", str(exported)]) == 0
    assert load_graph(exported) == load_graph(changed)
    assert await asyncio.to_thread(main, ["import", str(exported)]) == 0
    assert (await world.store.current_version()) == current[0]  # a fixed point
    assert await asyncio.to_thread(main, ["graph", "rollback", str(current[0] - 1)]) == 0
    back = await world.store.load_current()
    assert back is not None and back[1] == EXAMPLE


async def test_a_flushed_redis_is_put_back_while_the_edge_keeps_serving(world):
    version = await world.store.current_version()
    keys = [k async for k in world.store.redis.scan_iter(match=f"{world.prefix}:*")]
    await world.store.redis.delete(*keys)
    assert await world.store.current_version() is None
    assert (await world.click()).status_code == 302  # the edge holds its graph
    took = await eventually(lambda: _is(world.store, version), timeout=10)
    print(f"\nflushed Redis has version {version} back after {took * 1000:.0f} ms")
    assert (await world.click()).status_code == 302
    assert (await world.act("camp-a", "pause")).status_code == 200
    await eventually(lambda: served(world, 404), timeout=10)
    assert await world.store.current_version() == (version or 0) + 1


async def _is(store: GraphStore, version: int | None) -> bool:
    return await store.current_version() == version


async def test_postgres_stopped_admin_answers_503_edges_and_reports_keep_working(
        tmp_path, redis_url, chdb_database, stack):
    server = postgres(tmp_path / "own-postgres")
    server.start()
    url = f"postgresql://postgres@127.0.0.1:{server.port}/postgres"
    migrate(url)
    try:
        async with world_on(url, redis_url, chdb_database, stack, tmp_path / "edge") as world:
            report = await world.api.get("/api/v1/report", params={"group_by": "campaign"})
            assert report.status_code == 200, report.text
            server.stop()
            listed = await world.api.get("/api/v1/campaigns")
            assert listed.status_code == 503
            assert listed.headers["content-type"] == "application/problem+json"
            assert "PostgreSQL is unavailable" in listed.json()["detail"]
            paused = await world.api.post("/api/v1/campaigns/camp-a/pause",
                                          headers={"If-Match": '"1"'})
            assert paused.status_code == 503
            assert (await world.click()).status_code == 302  # the edge serves on
            report = await world.api.get("/api/v1/report", params={"group_by": "campaign"})
            assert report.status_code == 200, report.text  # reports need no PostgreSQL
            server.start()

            async def paused_again() -> bool:  # the pool reconnects by itself
                read = await world.api.get("/api/v1/campaigns/camp-a")
                if read.status_code == 503:
                    return False
                answer = await world.api.post("/api/v1/campaigns/camp-a/pause", headers={
                    "If-Match": f'"{read.json()["revision"]}"'})
                assert answer.status_code == 200, answer.text
                return True

            took = await eventually(paused_again, timeout=60, step=0.5)
            print(f"\nwrites work again {took:.1f} s after PostgreSQL restarted")
            await eventually(lambda: served(world, 404), timeout=10)
    finally:
        server.stop()
