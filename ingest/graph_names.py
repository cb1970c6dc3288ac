"""Keeping the dim_* tables in step with the published campaign graph.

`turnout ingest` follows the graph store (Redis) and writes the names of every entity
for each version it has not stored yet, so reports can show a campaign under its name at
the time of the click and under today's name. Writing a version twice is harmless
(ReplacingMergeTree keyed by workspace, id and version).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from turnout.config.compiled import CompiledGraph

log = logging.getLogger(__name__)
RETRY_S = 5.0


def dimension_rows(graph: CompiledGraph) -> dict[str, list[dict[str, Any]]]:
    """The dim_* rows of one compiled graph version (graph_version is added on write)."""
    return {
        "dim_campaigns": [
            {
                "workspace_id": c.workspace.id, "id": c.id, "name": c.name, "code": c.code,
                "parent_id": c.parent_id or "", "traffic_source_id": c.traffic_source.id,
                "cost_model": c.cost_model.type, "cost_rate_micros": c.cost_model.value_micros,
                "attribution_window_ms": c.attribution_window_ms,
                "unique_window_ms": c.unique_window_ms,
            }
            for c in graph.campaigns_by_id.values()
        ],
        "dim_offers": [
            {
                "workspace_id": o.workspace_id, "id": o.id, "name": o.name,
                "network_id": o.network_id, "payout_micros": o.payout_micros,
                "currency": o.currency,
            }
            for o in graph.offers_by_id.values()
        ],
        "dim_landers": _named(graph.landers_by_id.values()),
        "dim_sources": _named(graph.traffic_sources_by_id.values()),
        "dim_networks": _named(graph.networks_by_id.values()),
    }


def _named(entities: Any) -> list[dict[str, Any]]:
    return [{"workspace_id": e.workspace_id, "id": e.id, "name": e.name} for e in entities]


async def follow_graph(redis_url: str, prefix: str, client_factory: Callable[[], Any],
                       database: str) -> None:
    """Write dimension rows for every graph version published, until cancelled."""
    from redis.asyncio import Redis

    from turnout.config.compile import compile_graph
    from turnout.config.errors import ConfigError
    from turnout.config.store import GraphStore
    from turnout.ingest.dimensions import write_dimensions

    redis = Redis.from_url(redis_url)
    client = await asyncio.to_thread(client_factory)
    store = GraphStore(redis, prefix)

    async def store_missing(version: int) -> None:
        stored = await asyncio.to_thread(_stored_versions, client, database)
        for missing in [v for v in range(1, version + 1) if v not in stored]:
            try:
                graph = compile_graph(await store.load(missing), missing)
            except ConfigError:  # a version that no longer loads keeps no names
                log.warning("graph version %d could not be loaded for names", missing)
                continue
            written = await asyncio.to_thread(
                write_dimensions, client, missing, dimension_rows(graph))
            log.info("names of graph version %d stored (%d rows)", missing, written)

    try:
        async for version in store.watch():
            while True:
                try:
                    await store_missing(version)
                    break
                except Exception:  # ClickHouse away: names wait, ingest goes on
                    log.exception("graph names not stored; retrying in %.0f s", RETRY_S)
                    await asyncio.sleep(RETRY_S)
    finally:
        with contextlib.suppress(Exception):
            await redis.aclose()


def _stored_versions(client: Any, database: str) -> set[int]:
    result = client.query(f"SELECT DISTINCT graph_version FROM {database}.dim_campaigns")
    return {int(row[0]) for row in result.result_rows}
