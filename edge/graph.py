"""The compiled campaign graph in process memory, swapped whole on every publish.

Requests read `holder.snapshot` once and use that object to the end, so no request ever
mixes two versions. A background task follows the graph store (turnout.config.follower);
while Redis is away the last snapshot stays in use.

A new version is compiled in a worker thread, so requests keep flowing meanwhile, and only
as far as it changed: the campaigns it changed, and those embedding a shared entity
(workspace, traffic source, offer, lander, funnel) it changed, are compiled again; every
other compiled campaign is reused as it is (config.compile.recompile). The first version
is compiled whole, decoding one campaign at a time. Campaign models are not kept, only the
compiled campaigns and the small models of the shared entities.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Final

import redis.exceptions

from turnout.config.compile import campaigns_affected, compile_version, recompile
from turnout.config.compiled import CompiledGraph, CompiledNetwork, CompiledWorkspace
from turnout.config.follower import Backoff, DocumentsMissing, GraphFollower, VersionUpdate
from turnout.config.manifest import (
    CAMPAIGNS,
    SHARED_SECTIONS,
    Changes,
    Manifest,
    changes_between,
    decode_entity,
)
from turnout.config.model import Campaign, Entity, Graph
from turnout.edge.clicks import source_slots

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A compiled graph plus the indexes the edge derives from it, built once per version."""

    graph: CompiledGraph
    loaded_at_ms: int
    networks_by_secret: dict[str, CompiledNetwork] = field(default_factory=dict)
    workspaces_by_pixel_key: dict[str, CompiledWorkspace] = field(default_factory=dict)
    fallback_workspace: CompiledWorkspace | None = None
    # traffic source id -> {the source's parameter name: token slot} (edge.clicks.Tokens)
    token_slots: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def version(self) -> int:
        return self.graph.version


def snapshot_of(graph: CompiledGraph, default_workspace: str = "") -> Snapshot:
    """The snapshot of a compiled graph: its indexes are over the shared entities only, so
    building one costs nothing like the graph's size in campaigns."""
    workspaces = graph.workspaces_by_id
    fallback = workspaces.get(default_workspace)
    if fallback is None and len(workspaces) == 1:
        fallback = next(iter(workspaces.values()))
    return Snapshot(
        graph=graph,
        loaded_at_ms=time.time_ns() // 1_000_000,
        networks_by_secret={n.secret: n for n in graph.networks_by_id.values() if n.secret},
        workspaces_by_pixel_key={w.pixel_key: w for w in workspaces.values() if w.pixel_key},
        fallback_workspace=fallback,
        token_slots={s.id: source_slots(s.params) for s in graph.traffic_sources_by_id.values()},
    )


_UNREACHABLE: Final = (redis.exceptions.RedisError, OSError)


@dataclass(slots=True)
class _Held:
    """What the holder keeps to apply the next version: the installed version's manifest
    and the models of its shared entities by digest."""

    manifest: Manifest | None = None
    shared: dict[str, Entity] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class _Plan:
    """What to compile for one update: the shared graph, the campaigns to compile (ids and
    digests) and, for an incremental step, the changes since the installed version."""

    shared: Graph
    shared_models: dict[str, Entity]
    campaigns: tuple[tuple[str, str], ...]
    changes: Changes | None


class GraphHolder:
    def __init__(self, redis_url: str, prefix: str, default_workspace: str = "",
                 recheck_seconds: float = 30.0, max_backoff: float = 10.0) -> None:
        self.snapshot: Snapshot | None = None
        self._default_workspace = default_workspace
        self._follower = GraphFollower(redis_url, prefix, poll_interval=recheck_seconds,
                                       backoff=Backoff(cap=max_backoff))
        self._task: asyncio.Task[None] | None = None
        self._loaded = asyncio.Event()
        self._held = _Held()
        self.swaps = 0
        self.last_change: Changes | None = None  # what the installed version changed
        self.last_compiled = 0  # campaigns compiled for it

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
        # Move what is alive now (the graph, caches, modules) out of the collector's way,
        # so collections under load never walk the graph. No full collection here: on a
        # big graph it stops the loop for a second. Compiled graphs hold no cycles, so a
        # replaced one is freed by reference counting, frozen or not.
        gc.freeze()

    @property
    def version(self) -> int:
        snapshot = self.snapshot
        return 0 if snapshot is None else snapshot.version

    async def _follow(self) -> None:
        async with contextlib.aclosing(self._follower.follow_updates()) as updates:
            async for update in updates:
                try:
                    await self._take(update)
                except _UNREACHABLE:
                    self._follower.retry()  # the next connection hands it out again
                except DocumentsMissing as exc:
                    log.error("graph version %d cannot be loaded; keeping version %d: %s",
                              update.version, self.version, exc)

    async def _take(self, update: VersionUpdate) -> None:
        version = update.version
        held = self._held
        previous = None if self.snapshot is None or held.manifest is None else self.snapshot.graph
        plan = await self._plan(update, previous)
        documents = await update.complete([d for _, d in plan.campaigns])
        try:
            compiled = await asyncio.to_thread(_compile, version, update.manifest, plan,
                                               documents, previous)
        except Exception as exc:  # a graph that breaks the compiler must not stop the follower
            log.error("graph version %d does not compile; keeping version %d: %s",
                      version, self.version, exc)
            return
        self._held = _Held(update.manifest, plan.shared_models)
        self.last_change, self.last_compiled = plan.changes, len(plan.campaigns)
        self.install(compiled)
        log.info("serving graph version %d (%d campaign(s) compiled)", version,
                 len(plan.campaigns))

    async def _plan(self, update: VersionUpdate, previous: CompiledGraph | None) -> _Plan:
        manifest, held = update.manifest, self._held
        entries = [(section, d) for section in SHARED_SECTIONS
                   for _, d in manifest.entries(section)]
        fetched = await update.complete([d for _, d in entries if d not in held.shared])
        models = {d: held.shared.get(d) or decode_entity(section, fetched[d])
                  for section, d in entries}
        shared = Graph(**{section: tuple(models[d] for _, d in manifest.entries(section))
                          for section in SHARED_SECTIONS})
        campaigns = manifest.entries(CAMPAIGNS)
        if previous is None:
            return _Plan(shared, models, campaigns, None)
        changes = changes_between(held.manifest, manifest)
        affected = campaigns_affected(previous, changes)
        chosen = tuple((i, d) for i, d in campaigns if i in affected)
        return _Plan(shared, models, chosen, changes)


def _compile(version: int, manifest: Manifest, plan: _Plan, documents: dict[str, bytes],
             previous: CompiledGraph | None) -> CompiledGraph:
    """Runs in a worker thread: decode the campaigns one at a time, dropping each document
    once decoded, and compile them (everything, or incrementally on `previous`)."""
    order = [i for i, _ in manifest.entries(CAMPAIGNS)]

    def campaigns() -> Iterator[Campaign]:
        for _, digest in plan.campaigns:
            campaign = decode_entity(CAMPAIGNS, documents.pop(digest))
            assert isinstance(campaign, Campaign)
            yield campaign

    if previous is None or plan.changes is None:
        return compile_version(plan.shared, version, campaigns(), order)
    return recompile(previous, plan.shared, version, plan.changes, campaigns(), order)
