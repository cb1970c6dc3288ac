"""Following the published graph: each new current version once, over one connection.

A follower keeps one connection to Redis, subscribed to the publish channel, and reads the
pointer, the versions' records and manifests and the entity documents over that same
connection (turnout.config.link). Each version comes with the documents of the entities
the version handed out before did not name, so a one-campaign change moves one campaign's
document; `follow` assembles whole graphs from them, `follow_updates` leaves that to a
caller that keeps less (an edge keeps compiled campaigns, not their models). It
reads the pointer after every (re)subscribe, because a notice published while it was
disconnected is gone for good, and again every `poll_interval` seconds in case a notice is
lost on a live connection. When Redis is unreachable it waits (capped exponential backoff,
full jitter) and tries again instead of raising, so its caller keeps what it holds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Final

import msgspec
import redis.exceptions
from redis.asyncio import ConnectionPool
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from turnout.backoff import Backoff
from turnout.config.link import SubscribedLink
from turnout.config.manifest import Manifest, assemble, decode_all, missing_documents
from turnout.config.model import Entity
from turnout.config.store import (
    DEFAULT_PREFIX,
    GraphKeys,
    VersionDocument,
    VersionInfo,
    decode_info,
    decode_manifest,
)

log = logging.getLogger(__name__)

# asyncio.TimeoutError is an OSError since Python 3.11.
_UNREACHABLE: Final = (redis.exceptions.RedisError, OSError)


_CHUNK: Final = 500


class DocumentsMissing(Exception):
    """An entity document a version names is gone (pruned, or the store was reset)."""


Fetch = Callable[[Sequence[str]], Awaitable[dict[str, bytes]]]


@dataclass(frozen=True, slots=True)
class VersionUpdate:
    """A newly current version: its record and manifest, the documents of the entities
    the update before did not name (all of them for the first), and `fetch` for any other
    document of this version (over the follower's connection; only while the caller
    handles this update)."""

    info: VersionInfo
    manifest: Manifest
    documents: dict[str, bytes]
    fetch: Fetch

    @property
    def version(self) -> int:
        return self.info.version

    async def complete(self, digests: Sequence[str]) -> dict[str, bytes]:
        """The documents of `digests`, taken from this update (so the caller alone holds
        them, and can free each once used) or fetched."""
        have = self.documents
        found = {d: have.pop(d) for d in digests if d in have}
        missing = [d for d in digests if d not in have]
        if missing:
            found.update(await self.fetch(missing))
        return found


class GraphAssembler:
    """Whole graphs from updates, decoding only the entities each update brings new."""

    def __init__(self) -> None:
        self._entities: dict[str, Entity] = {}

    async def graph(self, update: VersionUpdate) -> VersionDocument:
        manifest = update.manifest
        needed = [d for d in dict.fromkeys(manifest.digests()) if d not in self._entities]
        documents = await update.complete(needed)
        entities = {d: self._entities[d] for d in manifest.digests() if d in self._entities}
        entities.update(decode_all(manifest, documents, needed))
        self._entities = entities
        return VersionDocument(info=update.info, graph=assemble(manifest, entities))


class NewVersions:
    """Decides which version numbers are news, so none is handed out twice in a row."""

    def __init__(self) -> None:
        self.last: int | None = None

    def from_notice(self, version: int) -> bool:
        # Notices can repeat what the pointer already said, and arrive out of order.
        return self.last is None or version > self.last

    def from_pointer(self, version: int | None) -> bool:
        # `current` only moves forward, so a pointer below the last version means the
        # store was reset (Redis lost its data): follow it rather than ignore every
        # publish from now on.
        return version is not None and version != self.last


class GraphFollower:
    def __init__(self, redis_url: str, prefix: str = DEFAULT_PREFIX, *,
                 poll_interval: float = 30.0, backoff: Backoff | None = None,
                 timeout: float = 5.0, name: str = "turnout-graph-follower",
                 prefetch: bool = True) -> None:
        self.keys = GraphKeys(prefix)
        self.poll_interval = poll_interval
        self.backoff = backoff or Backoff()
        self.versions = NewVersions()
        self.connected = False
        self.timeout = timeout
        # Fetch a version's new documents before handing it out (off: the caller fetches
        # what it needs, when it needs it, through the update).
        self.prefetch = prefetch
        # Retries are this class's own (backoff, then re-read the pointer), not redis-py's;
        # no socket timeout, for the reason in turnout.config.link.
        self._pool = ConnectionPool.from_url(
            redis_url, protocol=3, client_name=name, decode_responses=False,
            socket_timeout=None, socket_connect_timeout=timeout, socket_keepalive=True,
            retry=Retry(NoBackoff(), 0))
        self._poll_at = 0.0
        self._caught_up = asyncio.Event()
        self._held: Manifest | None = None  # the manifest of the update handed out last

    async def follow(self) -> AsyncIterator[VersionDocument]:
        """The current version's whole graph (when there is one), then each newly
        published one, for as long as the caller iterates. Close it
        (contextlib.aclosing) to let go of its connection."""
        assembler = GraphAssembler()
        async with contextlib.aclosing(self.follow_updates()) as updates:
            async for update in updates:
                try:
                    document = await assembler.graph(update)
                except _UNREACHABLE:
                    self.retry()  # the connection is gone: the next one hands it out again
                    continue
                except (DocumentsMissing, msgspec.MsgspecError) as exc:
                    log.error("graph version %d cannot be assembled; skipping it: %s",
                              update.version, exc)
                    continue
                yield document

    async def follow_updates(self) -> AsyncIterator[VersionUpdate]:
        """Like `follow`, one VersionUpdate per version."""
        loop = asyncio.get_running_loop()
        failures = 0
        while True:
            connection = self._pool.make_connection()
            try:
                async with asyncio.timeout(self.timeout):  # the handshake waits on replies
                    await connection.connect()
                link = SubscribedLink(connection, self.timeout)
                await link.subscribe(self.keys.channel)
                if failures:
                    log.info("graph store reachable again after %d failed attempt(s)",
                             failures)
                self.connected, failures = True, 0
                self._poll_at = loop.time()  # the pointer first: a notice may have been missed
                while True:
                    version = await self._next(link)
                    update = await self._load(link, version)
                    if update is not None:
                        self.versions.last = version
                        self._held = update.manifest
                        yield update
            except _UNREACHABLE as exc:
                if failures == 0:
                    log.warning("graph store unreachable (%s: %s); still on version %s",
                                type(exc).__name__, exc, self.versions.last)
            finally:
                self.connected = False
                with contextlib.suppress(*_UNREACHABLE):
                    await connection.disconnect()
            self._caught_up.set()
            await asyncio.sleep(self.backoff.delay(failures))
            failures += 1

    def retry(self) -> None:
        """The update handed out last could not be used (its documents could not be
        fetched): hand out the current version again when the pointer is next read."""
        self.versions.last = None
        self._poll_at = 0.0

    async def caught_up(self, timeout: float) -> bool:
        """Wait until the first attempt has handed out what was current, found nothing
        published, or failed; False when that took longer than `timeout` seconds."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self._caught_up.wait()
        return self._caught_up.is_set()

    async def _next(self, link: SubscribedLink) -> int:
        """The next version worth loading: the pointer when it is due, else a notice."""
        loop = asyncio.get_running_loop()
        while True:
            wait = self._poll_at - loop.time()
            if wait <= 0:
                self._poll_at = loop.time() + self.poll_interval
                pointer = _number(await link.get(self.keys.current))
                if pointer is not None and self.versions.from_pointer(pointer):
                    last = self.versions.last
                    if last is not None and pointer < last:
                        log.warning("graph store went back from version %d to %d; "
                                    "following it", last, pointer)
                    return pointer
                continue
            self._caught_up.set()
            version = _number(await link.message(wait))
            if version is not None and self.versions.from_notice(version):
                return version

    async def _load(self, link: SubscribedLink, version: int) -> VersionUpdate | None:
        info_raw, manifest_raw = await link.mget(
            [self.keys.version(version), self.keys.manifest(version)])
        if info_raw is None or manifest_raw is None:  # reset or pruned since the pointer
            log.warning("graph version %d has no record; waiting for the next", version)
            return None
        try:
            info, manifest = decode_info(info_raw), decode_manifest(manifest_raw)
        except msgspec.MsgspecError as exc:
            log.error("graph version %d does not decode; skipping it: %s", version, exc)
            return None

        async def fetch(digests: Sequence[str]) -> dict[str, bytes]:
            return await self._documents(link, digests)

        try:
            wanted = missing_documents(self._held, manifest) if self.prefetch else []
            documents = await fetch(wanted)
        except DocumentsMissing as exc:
            log.warning("graph version %d: %s; waiting for the next", version, exc)
            return None
        return VersionUpdate(info, manifest, documents, fetch)

    async def _documents(self, link: SubscribedLink, digests: Sequence[str]
                         ) -> dict[str, bytes]:
        found: dict[str, bytes] = {}
        for start in range(0, len(digests), _CHUNK):
            chunk = digests[start:start + _CHUNK]
            raws = await link.mget([self.keys.entity(d) for d in chunk])
            for digest, raw in zip(chunk, raws, strict=True):
                if raw is None:
                    raise DocumentsMissing(f"entity document {digest} is gone")
                found[digest] = raw
        return found


def _number(raw: bytes | None) -> int | None:
    """A version number read from Redis; None for nothing, or for something else that
    was published on the channel."""
    try:
        return None if raw is None else int(raw)
    except ValueError:
        return None
