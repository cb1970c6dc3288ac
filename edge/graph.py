"""The compiled campaign graph in process memory, swapped whole on every publish.

Requests read `holder.snapshot` once and use that object to the end, so no request ever
mixes two versions. A background task subscribes to publish notices; when Redis is away
it keeps the last snapshot, retries with exponential backoff and, once back, re-reads the
current version (a notice may have been missed while it was gone). It also re-checks the
current version now and then, in case a notice was lost on a live connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import time
from dataclasses import dataclass, field

import redis.asyncio as aioredis
import redis.exceptions
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from turnout.config.compile import compile_graph
from turnout.config.compiled import CompiledGraph, CompiledNetwork, CompiledWorkspace, Target
from turnout.config.errors import ConfigError
from turnout.config.store import GraphStore
from turnout.edge.addresses import masks
from turnout.edge.clicks import source_slots

log = logging.getLogger(__name__)

_REDIS_ERRORS = (redis.exceptions.RedisError, ConfigError, OSError, asyncio.TimeoutError)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A compiled graph plus the indexes the edge derives from it, built once per version."""

    graph: CompiledGraph
    loaded_at_ms: int
    # (campaign id, rule id, destination id) -> Target: where /click continues from.
    targets: dict[tuple[str, str, str], Target] = field(default_factory=dict)
    bot_masks: dict[str, tuple[tuple[int, int, int], ...]] = field(default_factory=dict)
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
        bot_masks={w.id: masks(w.bot_networks) for w in workspaces.values() if w.bot_networks},
        networks_by_secret={n.secret: n for n in graph.networks_by_id.values() if n.secret},
        workspaces_by_pixel_key={w.pixel_key: w for w in workspaces.values() if w.pixel_key},
        fallback_workspace=fallback,
        token_slots={s.id: source_slots(s.params) for s in graph.traffic_sources_by_id.values()},
    )


class GraphHolder:
    def __init__(self, redis_url: str, prefix: str, default_workspace: str = "",
                 recheck_seconds: float = 30.0, max_backoff: float = 10.0) -> None:
        self.snapshot: Snapshot | None = None
        self._redis_url = redis_url
        self._prefix = prefix
        self._default_workspace = default_workspace
        self._recheck = recheck_seconds
        self._max_backoff = max_backoff
        self._task: asyncio.Task[None] | None = None
        self._loaded = asyncio.Event()
        self.swaps = 0
        self.connected = False

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

    async def _follow(self) -> None:
        backoff = 0.1
        client = aioredis.Redis.from_url(
            self._redis_url, retry=Retry(NoBackoff(), 0), socket_connect_timeout=2.0,
            socket_timeout=None, health_check_interval=15,
        )
        store = GraphStore(client, self._prefix)
        try:
            while True:
                pubsub = client.pubsub(ignore_subscribe_messages=True)
                try:
                    await pubsub.subscribe(store.channel)
                    await self._refresh(store)  # after (re)subscribing: nothing slips by
                    self.connected = True
                    backoff = 0.1
                    next_check = time.monotonic() + self._recheck
                    while True:
                        message = await pubsub.get_message(timeout=1.0)
                        if message is not None and message["type"] == "message":
                            await self._load(store, int(message["data"]))
                        if time.monotonic() >= next_check:
                            await self._refresh(store)
                            next_check = time.monotonic() + self._recheck
                except _REDIS_ERRORS as exc:
                    if self.connected:
                        log.warning("graph store unreachable (%s); serving version %s",
                                    type(exc).__name__, self.version)
                    self.connected = False
                finally:
                    with contextlib.suppress(*_REDIS_ERRORS):
                        await pubsub.aclose()
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self._max_backoff)
        finally:
            with contextlib.suppress(*_REDIS_ERRORS):
                await client.aclose()

    @property
    def version(self) -> int:
        snapshot = self.snapshot
        return 0 if snapshot is None else snapshot.version

    async def _refresh(self, store: GraphStore) -> None:
        version = await store.current_version()
        if version is not None and version != self.version:
            # `current` only moves forward, so a lower one means the store was reset
            # (Redis lost its data): follow it rather than ignore every publish from now on.
            if version < self.version:
                log.warning("graph store went back from version %d to %d; following it",
                            self.version, version)
            await self._load(store, version, force=True)

    async def _load(self, store: GraphStore, version: int, force: bool = False) -> None:
        if version <= self.version and not force:
            return  # notices repeat and may arrive out of order
        graph = await store.load(version)
        try:
            compiled = await asyncio.to_thread(compile_graph, graph, version)
        except Exception as exc:  # a graph that breaks the compiler must not stop the follower
            log.error("graph version %d does not compile; keeping version %d: %s",
                      version, self.version, exc)
            return
        if version > self.version or force:  # another load may have finished meanwhile
            self.install(compiled)
            log.info("serving graph version %d", version)
