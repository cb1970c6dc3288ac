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

The overlay (config.overlay, followed by edge.overlay) is applied on top, without a new
version: `apply` compiles again only the campaigns reaching an offer whose cap changed
(config.compile.recap; their documents read from the graph store), in the worker thread
as versions are, and answers blocked campaigns as inactive (config.compile.blocked). The
holder keeps the graph without blocks (`base`) to build the next version on.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import gc
import logging
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Final, TypeVar

import redis.asyncio
import redis.exceptions

from turnout.backoff import Backoff
from turnout.config.compile import (
    blocked,
    campaigns_affected,
    campaigns_reaching,
    compile_version,
    recap,
    recompile,
)
from turnout.config.compiled import CompiledGraph, CompiledNetwork, CompiledWorkspace
from turnout.config.follower import DocumentsMissing, GraphFollower, VersionUpdate
from turnout.config.manifest import (
    CAMPAIGNS,
    SHARED_SECTIONS,
    Changes,
    Manifest,
    changes_between,
    decode_entity,
)
from turnout.config.model import Campaign, Entity, Graph
from turnout.config.overlay import Current
from turnout.config.store import GraphStore, VersionInfo
from turnout.edge.clicks import source_slots
from turnout.edge.limits import GraphLimits

log = logging.getLogger(__name__)
T = TypeVar("T")


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
    limits: GraphLimits | None = None  # budgets and click caps (edge.limits)

    @property
    def version(self) -> int:
        return self.graph.version


def snapshot_of(graph: CompiledGraph, default_workspace: str = "", prefix: str = "turnout:graph",
                previous: GraphLimits | None = None) -> Snapshot:
    """The snapshot of a compiled graph: its indexes are over the shared entities only, and
    its limits keep those of `previous` (the installed snapshot's) that did not change, so
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
        limits=GraphLimits(graph, prefix, previous),
    )


_UNREACHABLE: Final = (redis.exceptions.RedisError, OSError)
# The GIL's switch interval while a build runs in a worker thread. At the default 5 ms a
# request arriving meanwhile waits up to 5 ms for the GIL; measured with a one-campaign
# publish every 2 s (benchmarks.graph_publish): see docs/decisions.md.
_BUILD_SWITCH_INTERVAL_S: Final = 0.0002
_FETCH_CHUNK: Final = 500  # campaign documents fetched and decoded at a time


async def _off_loop(work: Callable[..., T], *args: object) -> T:
    """`work(*args)` in a worker thread, the GIL handed back to the loop every
    _BUILD_SWITCH_INTERVAL_S meanwhile (builds run one at a time, under the holder's lock)."""
    interval = sys.getswitchinterval()
    sys.setswitchinterval(min(interval, _BUILD_SWITCH_INTERVAL_S))
    try:
        return await asyncio.to_thread(work, *args)
    finally:
        sys.setswitchinterval(interval)


def _release_free_memory() -> None:
    """Hand the heap glibc keeps after a build (the version's documents, the decoded
    campaigns) back to the system: measured on a 10,000-campaign graph, 241 -> 176 MB RSS
    after the first load, and 199.5 -> 196.7 MB after ten one-campaign changes."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim(0)


@dataclass(slots=True)
class _Held:
    """What the holder keeps to apply the next version: the installed version's manifest
    and the models of its shared entities by digest."""

    manifest: Manifest | None = None
    shared: dict[str, Entity] = field(default_factory=dict)


class GraphHolder:
    def __init__(self, redis_url: str, prefix: str, default_workspace: str = "",
                 recheck_seconds: float = 30.0, backoff: Backoff | None = None) -> None:
        self.snapshot: Snapshot | None = None
        self.base: CompiledGraph | None = None  # the graph served, without blocks
        self.verdicts = Current()  # the overlay's verdicts applied
        self.on_install: Callable[[Snapshot], None] | None = None
        self._default_workspace = default_workspace
        self._prefix = prefix
        self._redis_url = redis_url
        self._store: GraphStore | None = None  # for documents an overlay change needs
        self._lock = asyncio.Lock()  # one build at a time: a version or an overlay change
        self.overlay_compiled = 0  # campaigns compiled for overlay changes
        self._follower = GraphFollower(redis_url, prefix, poll_interval=recheck_seconds,
                                       backoff=backoff or Backoff(cap=1.0), prefetch=False)
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
        if self._store is not None:
            await self._store.redis.aclose()
            self._store = None

    def snapshot_for(self, graph: CompiledGraph) -> Snapshot:
        """The snapshot serving `graph` under the overlay's verdicts (its blocked campaigns
        answering as inactive), its limits built on the installed snapshot's. A first load
        builds a limit per campaign (~0.1 s at 10,000), so the follower builds snapshots in
        a worker thread."""
        installed = self.snapshot
        return snapshot_of(blocked(graph, self.verdicts.blocked_campaigns),
                           self._default_workspace, self._prefix,
                           None if installed is None else installed.limits)

    def install(self, graph: CompiledGraph, snapshot: Snapshot | None = None) -> None:
        """Swap in a compiled graph (one reference assignment: atomic for readers) and its
        snapshot (`snapshot_for`, built here when not given)."""
        self.base = graph
        self.snapshot = snapshot = snapshot or self.snapshot_for(graph)
        if self.on_install is not None:
            self.on_install(snapshot)
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

    async def apply(self, verdicts: Current) -> None:
        """Serve under the overlay's `verdicts`: the campaigns reaching an offer whose cap
        changed are compiled again, blocked ones answer as inactive."""
        async with self._lock:
            if verdicts == self.verdicts:
                return
            self.verdicts = verdicts
            base = self.base
            if base is None:
                return  # the first version is compiled with them
            if verdicts.capped_offers != base.capped_offers:
                base = await self._recapped(base, verdicts.capped_offers)
            await self._install(base)
            log.info("overlay applied: %d capped offer(s), %d blocked campaign(s)",
                     len(verdicts.capped_offers), len(verdicts.blocked_campaigns))

    async def _recapped(self, base: CompiledGraph, capped: frozenset[str]) -> CompiledGraph:
        affected = campaigns_reaching(base, base.capped_offers ^ capped)
        if base.graph is not None:  # compiled from a whole graph (tests, dev): its models
            graph = base.graph
            models: list[Campaign] = [c for c in graph.campaigns if c.id in affected]
            order = [c.id for c in graph.campaigns]
        else:
            manifest = self._held.manifest
            assert manifest is not None
            entries = manifest.entries(CAMPAIGNS)
            order = [i for i, _ in entries]
            chosen = [d for i, d in entries if i in affected]
            if self._store is None:
                self._store = GraphStore(redis.asyncio.Redis.from_url(self._redis_url),
                                         self._prefix)
            documents = await self._store.documents(chosen)
            models = [m for d in chosen if isinstance(m := decode_entity(CAMPAIGNS, documents[d]),
                                                      Campaign)]
            graph = _shared_graph(manifest, self._held.shared)
        self.overlay_compiled += len(models)
        return await _off_loop(recap, base, graph, models, order, capped)

    async def _install(self, graph: CompiledGraph) -> None:
        """`install`, its snapshot built off the loop (measured: building it on the loop
        stopped the edge for ~0.1 s on every publish at 10,000 campaigns). Called under
        the lock, so the verdicts it is built under are still the ones when it is swapped
        in."""
        self.install(graph, await _off_loop(self.snapshot_for, graph))

    async def _take(self, update: VersionUpdate) -> None:
        async with self._lock:
            await self._take_locked(update)

    async def _take_locked(self, update: VersionUpdate) -> None:
        version = update.version
        held = self._held
        previous = None if self.base is None or held.manifest is None else self.base
        shared, models = await self._shared(update)
        build = _Build(update, asyncio.get_running_loop(), shared, held.manifest, previous,
                       self.verdicts.capped_offers)
        try:
            compiled = await _off_loop(build.run)
        except (*_UNREACHABLE, DocumentsMissing):
            raise
        except Exception as exc:  # a graph that breaks the compiler must not stop the follower
            log.error("graph version %d does not compile; keeping version %d: %s",
                      version, self.version, exc)
            return
        self._held = _Held(update.manifest, models)
        self.last_change, self.last_compiled = build.changes, build.compiled
        await self._install(compiled)
        # Every build leaves the allocator with freed heap (the version's documents, the
        # decoded campaigns); trimmed in the worker thread, off the loop.
        await _off_loop(_release_free_memory)
        log.info("serving graph version %d (%d campaign(s) compiled)", version, build.compiled)

    async def _shared(self, update: VersionUpdate) -> tuple[Graph, dict[str, Entity]]:
        """The version's shared entities (every section but campaigns), decoding only those
        the installed version does not have."""
        manifest, held = update.manifest, self._held.shared
        entries = [(section, d) for section in SHARED_SECTIONS
                   for _, d in manifest.entries(section)]
        fetched = await update.complete([d for _, d in entries if d not in held])
        models = {d: held.get(d) or decode_entity(section, fetched[d]) for section, d in entries}
        return _shared_graph(manifest, models), models


def _shared_graph(manifest: Manifest, models: dict[str, Entity]) -> Graph:
    """The version's shared entities (every section but campaigns) from their models."""
    return Graph(**{section: tuple(models[d] for _, d in manifest.entries(section))
                    for section in SHARED_SECTIONS})


def _changes(info: VersionInfo, installed_version: int, installed: Manifest | None,
             manifest: Manifest) -> Changes:
    """What the version changed since the installed one: its record says so when it was
    published on the installed version (every publish records `changes_between` its base's
    manifest and its own); otherwise the two manifests are compared (~2.6 ms at 10,000
    campaigns)."""
    if info.base is not None and info.base == installed_version and installed is not None:
        return info.changes
    return changes_between(installed, manifest)


class _Build:
    """One version's compile, run in a worker thread: what changed since the installed
    version, which campaigns that makes to compile, their documents fetched a chunk at a
    time over the follower's connection (on the event loop) and decoded one at a time, so
    a first load never holds every document or model at once."""

    def __init__(self, update: VersionUpdate, loop: asyncio.AbstractEventLoop, shared: Graph,
                 installed: Manifest | None, previous: CompiledGraph | None,
                 capped: frozenset[str]) -> None:
        self.update, self.loop, self.shared = update, loop, shared
        self.installed, self.previous = installed, previous
        self.capped = capped
        self.changes: Changes | None = None
        self.compiled = 0

    def run(self) -> CompiledGraph:
        manifest, previous = self.update.manifest, self.previous
        entries = manifest.entries(CAMPAIGNS)
        order = [i for i, _ in entries]
        if previous is None:
            return compile_version(self.shared, self.update.version, self._campaigns(entries),
                                   order, self.capped)
        self.changes = changes = _changes(self.update.info, previous.version, self.installed,
                                          manifest)
        affected = campaigns_affected(previous, changes)
        chosen = [(i, d) for i, d in entries if i in affected]
        return recompile(previous, self.shared, self.update.version, changes,
                         self._campaigns(chosen), order)

    def _campaigns(self, entries: Sequence[tuple[str, str]]) -> Iterator[Campaign]:
        for start in range(0, len(entries), _FETCH_CHUNK):
            digests = [d for _, d in entries[start:start + _FETCH_CHUNK]]
            documents = asyncio.run_coroutine_threadsafe(
                self.update.complete(digests), self.loop).result()
            for digest in digests:
                campaign = decode_entity(CAMPAIGNS, documents.pop(digest))
                assert isinstance(campaign, Campaign)
                self.compiled += 1
                yield campaign
