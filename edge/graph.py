"""The compiled campaign graph in process memory, swapped whole on every publish.

Requests read `holder.snapshot` once and use that object to the end, so no request ever
mixes two versions. A background task follows the graph store (turnout.config.follower);
while Redis is away the last snapshot stays in use.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import time
from dataclasses import dataclass, field

from turnout.config.compile import compile_graph
from turnout.config.compiled import CompiledGraph, CompiledNetwork, CompiledWorkspace, Target
from turnout.config.follower import Backoff, GraphFollower
from turnout.config.store import VersionDocument
from turnout.edge.clicks import source_slots

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A compiled graph plus the indexes the edge derives from it, built once per version."""

    graph: CompiledGraph
    loaded_at_ms: int
    # (campaign id, rule id, destination id) -> Target: where /click continues from.
    targets: dict[tuple[str, str, str], Target] = field(default_factory=dict)
    networks_by_secret: dict[str, CompiledNetwork] = field(default_factory=dict)
    workspaces_by_pixel_key: dict[str, CompiledWorkspace] = field(default_factory=dict)
    fallback_workspace: CompiledWorkspace | None = None
    # traffic source id -> {the source's parameter name: token slot} (edge.clicks.Tokens)
    token_slots: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def version(self) -> int:
        return self.graph.version


def snapshot_of(graph: CompiledGraph, default_workspace: str = "") -> Snapshot:
    targets: dict[tuple[str, str, str], Target] = {}
    for campaign in graph.campaigns_by_id.values():
        for rule in campaign.table.rules:
            for choice in rule.choices:
                key = (campaign.id, rule.rule_id, choice.destination.id)
                targets[key] = choice.destination.payload
    workspaces = graph.workspaces_by_id
    fallback = workspaces.get(default_workspace)
    if fallback is None and len(workspaces) == 1:
        fallback = next(iter(workspaces.values()))
    return Snapshot(
        graph=graph,
        loaded_at_ms=time.time_ns() // 1_000_000,
        targets=targets,
        networks_by_secret={n.secret: n for n in graph.networks_by_id.values() if n.secret},
        workspaces_by_pixel_key={w.pixel_key: w for w in workspaces.values() if w.pixel_key},
        fallback_workspace=fallback,
        token_slots={s.id: source_slots(s.params) for s in graph.traffic_sources_by_id.values()},
    )


class GraphHolder:
    def __init__(self, redis_url: str, prefix: str, default_workspace: str = "",
                 recheck_seconds: float = 30.0, max_backoff: float = 10.0) -> None:
        self.snapshot: Snapshot | None = None
        self._default_workspace = default_workspace
        self._follower = GraphFollower(redis_url, prefix, poll_interval=recheck_seconds,
                                       backoff=Backoff(cap=max_backoff))
        self._task: asyncio.Task[None] | None = None
        self._loaded = asyncio.Event()
        self.swaps = 0

    @property
    def connected(self) -> bool:
        return self._follower.connected

    async def start(self, wait: float = 5.0) -> None:
        """Start following publishes; wait up to `wait` s for a first graph (not required:
        /readyz stays 503 until one arrives)."""
        self._task = asyncio.create_task(self._follow(), name="graph-follow")
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._loaded.wait(), wait)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def install(self, graph: CompiledGraph) -> None:
        """Swap in a compiled graph (one reference assignment: atomic for readers)."""
        self.snapshot = snapshot_of(graph, self._default_workspace)
        self.swaps += 1
        self._loaded.set()
        # Objects alive now (the graph, caches, modules) move out of the collector's way;
        # the previous graph is unfrozen first so it can be collected.
        gc.unfreeze()
        gc.collect()
        gc.freeze()

    @property
    def version(self) -> int:
        snapshot = self.snapshot
        return 0 if snapshot is None else snapshot.version

    async def _follow(self) -> None:
        async with contextlib.aclosing(self._follower.follow()) as documents:
            async for document in documents:
                await self._take(document)

    async def _take(self, document: VersionDocument) -> None:
        version = document.version
        try:
            compiled = await asyncio.to_thread(compile_graph, document.graph, version)
        except Exception as exc:  # a graph that breaks the compiler must not stop the follower
            log.error("graph version %d does not compile; keeping version %d: %s",
                      version, self.version, exc)
            return
        self.install(compiled)
        log.info("serving graph version %d", version)
