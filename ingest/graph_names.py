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

from turnout.backoff import Backoff
from turnout.config.compiled import CompiledGraph

log = logging.getLogger(__name__)
RETRY = Backoff(base=0.2, cap=2.0)  # ingest's retry_initial_s / retry_max_s by default
POLL_S = 5.0  # the pointer re-read, in case a publish notice was lost


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
                       database: str, retry: Backoff = RETRY) -> None:
    """Write dimension rows for every graph version published, until cancelled; Redis or
    ClickHouse away are tried again after `retry`'s delays."""
    from redis.asyncio import Redis

    from turnout.config.compile import compile_graph
    from turnout.config.errors import ConfigError
    from turnout.config.follower import GraphFollower
    from turnout.config.store import GraphStore, VersionDocument
    from turnout.ingest.dimensions import write_dimensions

    follower = GraphFollower(redis_url, prefix, poll_interval=POLL_S, backoff=retry,
                             name="turnout-graph-names")
    # Older versions missing from ClickHouse are read from here; the follower brings the
    # current one, so this connects only when there is history to catch up on.
    history = Redis.from_url(redis_url)
    client = await asyncio.to_thread(client_factory)
    store = GraphStore(history, prefix)

    async def store_missing(current: VersionDocument) -> None:
        stored = await asyncio.to_thread(_stored_versions, client, database)
        for missing in [v for v in range(1, current.version + 1) if v not in stored]:
            try:
                graph = current.graph if missing == current.version else await store.load(missing)
                compiled = compile_graph(graph, missing)
            except ConfigError:  # a version that no longer loads keeps no names
                log.warning("graph version %d could not be loaded for names", missing)
                continue
            written = await asyncio.to_thread(
                write_dimensions, client, missing, dimension_rows(compiled))
            log.info("names of graph version %d stored (%d rows)", missing, written)

    try:
        async with contextlib.aclosing(follower.follow()) as documents:
            async for document in documents:
                failures = 0
                while True:
                    try:
                        await store_missing(document)
                        break
                    except Exception:  # ClickHouse away: names wait, ingest goes on
                        delay = retry.delay(failures)
                        if failures == 0:
                            log.exception("graph names not stored; retrying in %.1f s", delay)
                        failures += 1
                        await asyncio.sleep(delay)
    finally:
        with contextlib.suppress(Exception):
            await history.aclose()


def _stored_versions(client: Any, database: str) -> set[int]:
    result = client.query(f"SELECT DISTINCT graph_version FROM {database}.dim_campaigns")
    return {int(row[0]) for row in result.result_rows}
