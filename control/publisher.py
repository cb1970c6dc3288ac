"""Commit, then publish: every accepted change becomes part of a graph version that edges
serve, within a window of the first change of a burst.

Writers commit and then call `changed()` (it never blocks). A task gathers what arrives
within `window_s` (<= 250 ms) of the first change into one version: under the publish lock
(control/versions.py) it reads back only the entities the batch touched, patches them into
the graph it published last (held in memory: reading 10,000 campaigns takes seconds),
publishes through GraphStore.publish_since (which validates and encodes only what changed)
and records the version in PostgreSQL in the same transaction.

Several API processes may publish. Each reads the entities after taking the lock, so a
later version never holds an older state than an earlier one; and the versions others
recorded since this process's last one name the ids they changed, which are read back too,
so no process publishes its stale memory of another's change.

The task also watches Redis: a current version missing or behind PostgreSQL's latest (a
flushed or rebuilt Redis) is put back from PostgreSQL under its own number, while edges
keep serving what they hold. PostgreSQL or Redis out of reach: the batch waits and is
tried again (capped backoff); a batch that does not validate waits for the next change
(its problems are logged and kept in `last_error`), and nothing of it is published.

A change committed while a batch is being read back is in that batch's version before its
writer announces it; its own batch then publishes nothing, and its actor and note are added
to the record of the version that holds it.

At start the task reads the whole stored graph once: changes committed but never published
(a process that died between its commit and its publish) are published then.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import time
from collections.abc import Callable, Collection, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any, Final

import psycopg

from turnout.backoff import Backoff
from turnout.config.errors import ConfigError, GraphInvalid, StoreUnavailable
from turnout.config.manifest import SECTION_NAMES, Manifest, changes_between, manifest_of
from turnout.config.model import Entity, Graph
from turnout.config.store import GraphStore, Published, Since
from turnout.control import versions
from turnout.control.errors import ControlError, ControlUnavailable
from turnout.control.graph_patch import patched, workspace_of
from turnout.control.graph_read import read_graph, read_sections
from turnout.control.pending import Batch, Change, Pending, distinct, summary

log = logging.getLogger(__name__)

Connect = Callable[[], AbstractAsyncContextManager[psycopg.AsyncConnection[Any]]]
DEFAULT_WINDOW_S: Final = 0.25
DEFAULT_WATCH_S: Final = 1.0
STOP_TIMEOUT_S: Final = 10.0  # for the task to finish a publish under way
CATCH_UP_ACTOR: Final = "publisher"
_UNREACHABLE: Final = (ControlUnavailable, StoreUnavailable)


@dataclass(slots=True)
class _Held:
    """The graph this process last published (or read), the recorded version it equals
    except for the `dirty` ids, and that version's manifest and depth when known."""

    graph: Graph
    version: int | None
    dirty: dict[str, set[str]] = field(default_factory=dict)
    manifest: tuple[int, Manifest, int] | None = None


def _union(*parts: Mapping[str, Collection[str]]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for part in parts:
        for section, ids in part.items():
            if ids:
                out.setdefault(section, set()).update(ids)
    return out


class Publisher:
    def __init__(self, connect: Connect, store: GraphStore, *,
                 window_s: float = DEFAULT_WINDOW_S, watch_s: float = DEFAULT_WATCH_S,
                 backoff: Backoff | None = None) -> None:
        self.connect = connect
        self.store = store
        self.window_s = window_s
        self.watch_s = watch_s
        self.backoff = backoff or Backoff(base=0.25, cap=2.0)
        self.last_version: int | None = None
        self.last_error: str | None = None
        self._pending = Pending()
        self._refused = Batch()  # did not validate: waits for the next change
        self._held: _Held | None = None
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._failures = 0
        self._retry_at = 0.0
        self._ready = asyncio.Event()
        self._stopping = False
        self._in_flight = False  # a batch is being published

    # -- the interface writers and the app use ---------------------------------------

    def changed(self, workspace_id: str, actor: str, note: str,
                entities: Mapping[str, Collection[str]]) -> None:
        """Record a committed change (ids by section) to publish; returns at once."""
        ids = {section: tuple(found) for section, found in entities.items() if found}
        if not ids:
            return
        now = time.monotonic()
        if self._refused:
            self._pending.put_back(self._refused, now)
            self._refused = Batch()
        self._pending.add(Change(workspace_id, actor, note, ids), now)
        self._wake.set()
        if self._task is None:  # an app served without `start` (in-process tests)
            self._task = asyncio.get_running_loop().create_task(self._run(),
                                                                 name="turnout-publisher")

    async def graph(self) -> Graph:
        """The graph published last (with what was stored but unpublished at start):
        every workspace's entities, as imports are checked against them."""
        await self._load_once(raise_errors=True)
        assert self._held is not None
        return self._held.graph

    async def flush(self) -> int | None:
        """Publish what is pending now; the current version after it (None: none yet).
        Raises what publishing raised (the batch then waits for the task)."""
        await self._load_once(raise_errors=True)
        async with self._lock:
            await self._publish_pending(raise_errors=True)
        return self.last_version

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="turnout-publisher")

    async def stop(self) -> None:
        """Publish what is pending (when the services answer), then stop the task."""
        if self._task is None:
            return
        task, self._task = self._task, None
        # A flag, not only a cancel: a cancel that lands in a PostgreSQL call can come out
        # as psycopg's own error, which the loop survives by design.
        self._stopping = True
        self._wake.set()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(STOP_TIMEOUT_S):
                await asyncio.shield(task)
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._ready.is_set() and self._pending:
            with contextlib.suppress(ConfigError, ControlError, psycopg.Error):
                async with self._lock:
                    await self._publish_pending(raise_errors=False)

    async def ready(self, timeout: float) -> bool:
        """Wait until the stored graph has been read (and anything unpublished published)."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self._ready.wait()
        return self._ready.is_set()

    @property
    def pending(self) -> bool:
        """Are changes waiting for their version, or being published now?"""
        return bool(self._pending) or self._in_flight

    @property
    def held_back(self) -> bool:
        """Is a change waiting because the graph with it did not validate?"""
        return bool(self._refused)

    # -- the task ---------------------------------------------------------------------

    async def _run(self) -> None:
        await self._load_once()
        watch_at = 0.0
        while not self._stopping:
            now = time.monotonic()
            if now >= watch_at:
                watch_at = now + self.watch_s
                with contextlib.suppress(*_UNREACHABLE):
                    await self._watch()
            due = self._due()
            if due is not None and due <= now:
                async with self._lock:
                    await self._publish_pending(raise_errors=False)
                continue
            wait = watch_at - now if due is None else min(watch_at, due) - now
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(max(wait, 0.0)):
                    await self._wake.wait()

    def _due(self) -> float | None:
        """When the pending batch should be published (None: nothing pending)."""
        if self._pending.since is None:
            return None
        return max(self._pending.since + self.window_s, self._retry_at)

    async def _load_once(self, raise_errors: bool = False) -> None:
        while not self._ready.is_set() and not self._stopping:
            async with self._lock:
                if self._ready.is_set():
                    return
                try:
                    await self._load()
                except _UNREACHABLE as exc:
                    self._failed(exc)
                    if raise_errors:
                        raise
                else:
                    self._ready.set()
                    self._wake.set()
                    return
            await asyncio.sleep(self._retry_at - time.monotonic())

    async def _load(self) -> None:
        """Read the stored graph whole, and what differs from the latest version."""
        async with self.connect() as conn:
            latest = await versions.latest(conn)
            graph = await read_graph(conn)
            known = None
            if latest is None:
                dirty = {s: {e.id for e in getattr(graph, s)} for s in SECTION_NAMES
                         if getattr(graph, s)}
            else:
                manifest, depth = await versions.manifest(conn, latest)
                known = (latest, manifest, depth)
                now = await asyncio.to_thread(lambda: manifest_of(graph)[0])
                dirty = {s: set(i) for s, i in changes_between(manifest, now).by_section().items()}
        self._hold(_Held(graph, latest, dirty, known))
        if dirty:
            # Without any version yet this is the first publish, not a catch-up.
            (log.info if latest is None else log.warning)(
                "publishing changes stored but never published: %s",
                {s: len(i) for s, i in dirty.items()})
            self._pending.add(Change("", CATCH_UP_ACTOR, "changes stored but not published",
                                     {s: tuple(i) for s, i in dirty.items()}),
                              time.monotonic())

    def _failed(self, exc: BaseException) -> None:
        self._failures += 1
        self._retry_at = time.monotonic() + self.backoff.delay(self._failures)
        if self._failures == 1:
            log.warning("cannot publish now (%s); trying again", exc)

    async def _publish_pending(self, raise_errors: bool) -> None:
        batch = self._pending.take()
        if not batch:
            return
        self._in_flight = True
        try:
            await self._publish(batch)
        except GraphInvalid as exc:
            self._refused = self._refused + batch
            self.last_error = str(exc)
            log.error("graph version not published: the stored graph has problems: %s", exc)
            if raise_errors:
                raise
        except (*_UNREACHABLE, ControlError, ConfigError, psycopg.Error) as exc:
            self._pending.put_back(batch, time.monotonic())
            self._failed(exc)
            if raise_errors:
                raise
        else:
            if self._failures:
                log.info("publishing again after %d failed attempt(s)", self._failures)
            self._failures, self._retry_at, self.last_error = 0, 0.0, None
        finally:
            self._in_flight = False

    # -- publishing -------------------------------------------------------------------

    async def _publish(self, batch: Batch) -> None:
        held = self._held
        assert held is not None
        clock = [time.perf_counter()]
        async with self.connect() as conn:
            await versions.lock(conn)
            latest = await versions.latest(conn)
            ids = _union(held.dirty, batch.ids())
            if latest is not None and (held.version is None or latest > held.version):
                ids = _union(ids, await versions.changed_since(conn, held.version or 0))
            graph = patched(held.graph, ids, await read_sections(conn, ids))
            clock.append(time.perf_counter())
            current = await self.store.current_version()
            if latest is not None and (current is None or current < latest):
                await self._restore(conn, latest)
            since = None if latest is None else Since(latest, ids)
            published = await self.store.publish_since(graph, since, batch.note(),
                                                       batch.actor())
            clock.append(time.perf_counter())
            manifest = held.manifest
            if published is not None:
                manifest = await self._record(conn, published, graph, held, batch, latest)
            elif latest is not None:
                await self._amend(conn, latest, batch)
        clock.append(time.perf_counter())
        version = latest if published is None else published.version
        self._hold(_Held(graph, version, {}, manifest))
        if published is not None:
            read, publish, record = (round((b - a) * 1000) for a, b in pairwise(clock))
            log.info("graph version %d published (%d change(s) gathered) in %d ms: read "
                     "back %d ms, published %d ms, recorded %d ms", version,
                     len(batch.changes), read + publish + record, read, publish, record)

    def _hold(self, held: _Held) -> None:
        self._held = held
        self.last_version = held.version
        # Out of the cyclic collector's way (as the edge does): a generation-2 collection
        # walking the ~10 million objects of a 10,000-campaign graph stalls the API's loop
        # for seconds. The graph holds no cycles: a replaced one is freed by refcounting.
        gc.freeze()

    async def _record(self, conn: psycopg.AsyncConnection[Any], published: Published,
                      graph: Graph, held: _Held, batch: Batch, latest: int | None
                      ) -> tuple[int, Manifest, int]:
        changes = published.info.changes
        upserted = {s: set(i) for s, i in changes.upserted.items()}
        removed = {s: set(i) for s, i in changes.removed.items()}
        now = _entities(graph, upserted)
        before = _entities(held.graph, removed)
        parts: dict[str, dict[str, set[str]]] = {}
        for found, by_id in ((upserted, now), (removed, before)):
            for section, ids in found.items():
                for entity_id in ids:
                    entity = by_id[section].get(entity_id)
                    workspace = workspace_of(entity) if entity is not None else ""
                    parts.setdefault(workspace, {}).setdefault(section, set()).add(entity_id)
        workspaces = {
            workspace: versions.WorkspacePart(
                actors=batch.actors(workspace) or [CATCH_UP_ACTOR],
                notes=batch.notes(workspace),
                changed={s: sorted(i) for s, i in changed.items()})
            for workspace, changed in parts.items() if workspace}
        base = None
        if latest is not None and published.info.base == latest:
            base = held.manifest if held.manifest and held.manifest[0] == latest else (
                latest, *await versions.manifest(conn, latest))
        bodies = dict(published.documents)
        if base is None:  # no recorded base: store whatever documents are missing
            missing = await versions.absent_documents(conn, set(published.manifest.digests()))
            missing -= bodies.keys()
            if missing:
                everything = (await asyncio.to_thread(manifest_of, graph))[1]
                bodies.update({d: everything[d] for d in missing})
        owner = _owners(published.manifest, graph, bodies.keys())
        new = versions.NewVersion(
            info=published.info, manifest=published.manifest,
            changed={s: sorted(i) for s, i in changes.by_section().items()},
            workspaces=workspaces, base=base,
            documents=versions.documents_of(published.manifest, bodies, owner))
        depth = await versions.record(conn, new)
        return published.version, published.manifest, depth

    async def _amend(self, conn: psycopg.AsyncConnection[Any], version: int, batch: Batch
                     ) -> None:
        """Name `batch` in the record of `version`, which already holds what it changed.

        A change committed while `version` was being read back is in that version before
        its writer announces it; the announcement then publishes nothing, and its actor
        and note would otherwise be in no version's record. The version's actor and note
        are rebuilt from its workspaces' actors and notes (in workspace order)."""
        parts = await versions.parts(conn, version)
        named: dict[str, tuple[list[str], list[str]]] = {}
        for workspace in batch.workspaces():
            if workspace:
                actors, notes = parts.get(workspace, ([], []))
                named[workspace] = parts[workspace] = (
                    distinct([*actors, *batch.actors(workspace)]),
                    distinct([*notes, *batch.notes(workspace)]))
        if not named:
            return
        actor = ",".join(distinct(a for actors, _ in parts.values() for a in actors))
        note = summary(distinct(n for _, notes in parts.values() for n in notes))
        await versions.amend(conn, version, actor, note, named)
        await self.store.amend(version, note, actor)
        log.info("graph version %d already held %d change(s) announced after it was "
                 "published: named in its record", version, len(batch.changes))

    async def _restore(self, conn: psycopg.AsyncConnection[Any], latest: int) -> None:
        row = await versions.row(conn, latest)
        assert row is not None
        manifest, _ = await versions.manifest(conn, latest)
        documents = await versions.documents(conn, set(manifest.digests()))
        current = await self.store.restore(row.info(), manifest, documents)
        log.warning("Redis had lost graph version %d: put back from PostgreSQL (current %d)",
                    latest, current)

    async def _watch(self) -> None:
        """Put the latest recorded version back into a Redis that lost it."""
        current = await self.store.current_version()
        known = self.last_version
        if current is not None and known is not None and current >= known:
            return
        async with self.connect() as conn:
            latest = await versions.latest(conn)
        if latest is None or (current is not None and current >= latest):
            return
        async with self._lock, self.connect() as conn:
            await versions.lock(conn)
            current = await self.store.current_version()
            if current is None or current < latest:
                await self._restore(conn, latest)
        self.last_version = max(latest, self.last_version or 0)


def _entities(graph: Graph, ids: Mapping[str, Collection[str]]) -> dict[str, dict[str, Entity]]:
    """The graph's entities of `ids`, by section and id."""
    return {section: {e.id: e for e in getattr(graph, section) if e.id in wanted}
            for section, wanted in ids.items()}


def _owners(manifest: Manifest, graph: Graph, digests: Collection[str]) -> dict[str, str]:
    """digest -> the workspace of the entity it names, for `digests`."""
    wanted = set(digests)
    out: dict[str, str] = {}
    for section, entries in manifest.sections.items():
        ids = {i for i, d in entries if d in wanted}
        if not ids:
            continue
        by_id = {e.id: e for e in getattr(graph, section) if e.id in ids}
        for entity_id, digest in entries:
            if digest in wanted:
                out[digest] = workspace_of(by_id[entity_id])
    return out
