"""Versioned graph publish in Redis: a manifest per version, a document per entity.

Keys (prefix `p`, default `turnout:graph`):
  {p}:seq             INCR counter handing out version numbers
  {p}:version:{n}     version n's record: who, when, note, and what it changed (VersionInfo)
  {p}:manifest:{n}    version n's manifest: each entity's id and digest (config.manifest)
  {p}:entity:{digest} one entity's JSON document, shared by every version naming it
  {p}:entities        sorted set: digest -> the newest version naming it (for pruning)
  {p}:current         the published version; only ever moves forward (compare-and-set)
  {p}:published       pub/sub channel carrying each new current version number

A publisher takes a version number, writes the documents its base (the current version)
does not name and marks every document of its manifest with the new number (so pruning,
which takes documents whose mark is below the oldest kept version, cannot take them),
writes the record and the manifest (SET NX), and moves `current` to its version only if
that is higher than what is there. (Only when other publishers pushed its base out of
retention meanwhile does it check each base document still exists, atomically.) Two racing
publishers therefore never leave `current` on an older version or on a missing manifest.
History is never rewritten: a rollback publishes a new version equal to the old one.

Retention: only the newest `retain` version numbers keep their record and manifest, and a
document goes when no kept version names it; the durable history is the control plane's.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Final

import msgspec
import redis.asyncio as aioredis
import redis.exceptions

from turnout.config.compile_check import check_compiles
from turnout.config.diff import graph_diff
from turnout.config.errors import ConfigError, GraphInvalid, StoreUnavailable, VersionNotFound
from turnout.config.manifest import (
    Changes,
    Manifest,
    assemble,
    changes_between,
    decode_all,
    manifest_of,
    manifest_since,
)
from turnout.config.model import Graph
from turnout.config.validate import validate
from turnout.gc_pause import paused_gc

DEFAULT_PREFIX: Final = "turnout:graph"
DEFAULT_RETAIN: Final = 50
_CHUNK: Final = 500  # keys per MGET/pipeline: bounded replies, no long server stalls

# KEYS: current, manifest. ARGV: version, channel.
_ADVANCE: Final = """
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
local version = tonumber(ARGV[1])
if version > current and redis.call('EXISTS', KEYS[2]) == 1 then
  redis.call('SET', KEYS[1], ARGV[1])
  redis.call('PUBLISH', ARGV[2], ARGV[1])
  return version
end
return current
"""

# KEYS: seq, current, record, manifest. ARGV: version, record, manifest, channel. Puts back
# a version under its own number (after Redis lost it): the counter never hands it out
# again, and the pointer moves to it unless something newer is current.
_RESTORE: Final = """
local version = tonumber(ARGV[1])
if tonumber(redis.call('GET', KEYS[1]) or '0') < version then
  redis.call('SET', KEYS[1], ARGV[1])
end
redis.call('SET', KEYS[3], ARGV[2], 'NX')
redis.call('SET', KEYS[4], ARGV[3], 'NX')
local current = tonumber(redis.call('GET', KEYS[2]) or '0')
if version > current then
  redis.call('SET', KEYS[2], ARGV[1])
  redis.call('PUBLISH', ARGV[4], ARGV[1])
  return version
end
return current
"""

# KEYS: the entities set. ARGV: version, entity key prefix, digest... Marks every document
# that exists with the version; returns the digests whose document does not.
_CLAIM: Final = """
local missing = {}
for i = 3, #ARGV do
  if redis.call('EXISTS', ARGV[2] .. ARGV[i]) == 1 then
    redis.call('ZADD', KEYS[1], 'GT', ARGV[1], ARGV[i])
  else
    missing[#missing + 1] = ARGV[i]
  end
end
return missing
"""

# KEYS: the entities set, the pruned-up-to marker. ARGV: first kept version, record key
# prefix, manifest key prefix, entity key prefix. Returns how many documents went.
_PRUNE: Final = """
local kept = tonumber(ARGV[1])
local done = tonumber(redis.call('GET', KEYS[2]) or '0')
if kept - 1 <= done then return 0 end
for n = done + 1, kept - 1 do
  redis.call('DEL', ARGV[2] .. n, ARGV[3] .. n)
end
redis.call('SET', KEYS[2], kept - 1)
local gone = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. kept)
for _, digest in ipairs(gone) do
  redis.call('DEL', ARGV[4] .. digest)
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. kept)
return #gone
"""


class VersionInfo(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """A version's record: everything but its entities."""

    version: int
    published_at_ms: int
    note: str = ""
    actor: str = ""  # who published it: a key id, `governor`, `cli`, ...
    base: int | None = None  # the version `changes` are relative to (None: the first)
    changes: Changes = Changes()
    rolled_back_from: int | None = None  # the version that was current at the rollback
    restores: int | None = None  # the version whose graph this one brings back


class VersionDocument(msgspec.Struct, frozen=True, kw_only=True):
    """A version's record with its whole graph."""

    info: VersionInfo
    graph: Graph

    @property
    def version(self) -> int:
        return self.info.version

    @property
    def note(self) -> str:
        return self.info.note

    @property
    def rolled_back_from(self) -> int | None:
        return self.info.rolled_back_from

    @property
    def restores(self) -> int | None:
        return self.info.restores


@dataclass(frozen=True, slots=True)
class Since:
    """What a graph about to be published is known to be: version `version`'s graph,
    except perhaps for the entities of the `changed` ids (by section, removed ones too)."""

    version: int
    changed: Mapping[str, Collection[str]]


@dataclass(frozen=True, slots=True)
class Published:
    """A version just published: its record, its manifest, and the documents of the
    entities the version before did not name (all of them for a first version)."""

    info: VersionInfo
    manifest: Manifest
    documents: dict[str, bytes]

    @property
    def version(self) -> int:
        return self.info.version


_ENCODER: Final = msgspec.json.Encoder()
_INFO: Final = msgspec.json.Decoder(VersionInfo)
_MANIFEST: Final = msgspec.json.Decoder(Manifest)


def decode_info(raw: bytes) -> VersionInfo:
    return _INFO.decode(raw)


def decode_manifest(raw: bytes) -> Manifest:
    return _MANIFEST.decode(raw)


@dataclass(frozen=True, slots=True)
class GraphKeys:
    """The keys and channel of one store (see the module docstring)."""

    prefix: str = DEFAULT_PREFIX

    @property
    def seq(self) -> str:
        return f"{self.prefix}:seq"

    @property
    def current(self) -> str:
        return f"{self.prefix}:current"

    @property
    def channel(self) -> str:
        return f"{self.prefix}:published"

    @property
    def entities(self) -> str:
        return f"{self.prefix}:entities"

    @property
    def pruned(self) -> str:
        return f"{self.prefix}:pruned"

    @property
    def version_prefix(self) -> str:
        return f"{self.prefix}:version:"

    @property
    def manifest_prefix(self) -> str:
        return f"{self.prefix}:manifest:"

    @property
    def entity_prefix(self) -> str:
        return f"{self.prefix}:entity:"

    def version(self, version: int) -> str:
        return f"{self.version_prefix}{version}"

    def manifest(self, version: int) -> str:
        return f"{self.manifest_prefix}{version}"

    def entity(self, digest: str) -> str:
        return f"{self.entity_prefix}{digest}"


@contextmanager
def _reachable() -> Iterator[None]:
    try:
        yield
    except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError) as exc:
        raise StoreUnavailable(f"Redis unavailable: {exc}") from exc


def _chunks(items: Sequence[str], size: int = _CHUNK) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def validated(graph: Graph) -> tuple[Manifest, dict[str, bytes]]:
    """The graph's manifest and documents; GraphInvalid (every problem) when it has any."""
    with paused_gc():
        problems = validate(graph)
        if problems:
            raise GraphInvalid(problems)
        return manifest_of(graph)


@dataclass(frozen=True, slots=True)
class Checked:
    """A graph `validated` found valid, with its manifest and documents: what a caller
    that validates before it connects (`turnout graph publish`) hands to `publish`, so
    the graph is not validated twice."""

    graph: Graph
    manifest: Manifest
    documents: dict[str, bytes]


def checked(graph: Graph) -> Checked:
    """`validated`, kept with the graph for `GraphStore.publish`."""
    return Checked(graph, *validated(graph))


def validated_since(graph: Graph, base: Manifest, changed: Mapping[str, Collection[str]]
                    ) -> tuple[Manifest, dict[str, bytes], Changes]:
    """`validated` for a graph that equals `base`'s (a valid one) except for the `changed`
    ids: only those entities are encoded again, and validation is scoped to what their
    changes can affect (config.validate); also what changed, exactly."""
    with paused_gc():
        manifest, documents = manifest_since(graph, base, changed)
        changes = changes_between(base, manifest)
        problems = validate(graph, changes.by_section())
        if problems:
            raise GraphInvalid(problems)
        return manifest, documents, changes


class GraphStore:
    def __init__(self, redis: aioredis.Redis, prefix: str = DEFAULT_PREFIX,
                 retain: int = DEFAULT_RETAIN) -> None:
        if retain < 1:
            raise ValueError("retain must be at least 1")
        self.redis = redis
        self.prefix = prefix
        self.retain = retain
        self.keys = keys = GraphKeys(prefix)
        self.channel = keys.channel
        self._advance = redis.register_script(_ADVANCE)
        self._claim = redis.register_script(_CLAIM)
        self._prune = redis.register_script(_PRUNE)
        self._restore = redis.register_script(_RESTORE)

    async def publish(self, graph: Graph | Checked, note: str = "", actor: str = "") -> int:
        """Validate (unless `checked` did), prove it compiles, and publish; returns the new
        version. Raises GraphInvalid (with every problem) and writes nothing when the graph
        has any."""
        published = await self._publish(graph, note, actor, None, None)
        assert published is not None
        return published.version

    async def publish_since(self, graph: Graph, since: Since | None, note: str = "",
                            actor: str = "") -> Published | None:
        """`publish`, unless nothing changed (None). With `since` naming the current
        version, only what changed is encoded and validated (see validated_since); on any
        other current version the whole graph is."""
        return await self._publish(graph, note, actor, None, None, since, if_changed=True)

    async def _publish(self, graph: Graph | Checked, note: str, actor: str,
                       rolled_back_from: int | None, restores: int | None,
                       since: Since | None = None, if_changed: bool = False
                       ) -> Published | None:
        keys = self.keys
        with _reachable():
            base = await self.current_version()
            base_manifest = None if base is None else await self._manifest_or_none(base)
        if isinstance(graph, Checked):
            manifest, documents, graph = graph.manifest, graph.documents, graph.graph
            changes = changes_between(base_manifest, manifest)
        elif since is not None and base == since.version and base_manifest is not None:
            manifest, documents, changes = await asyncio.to_thread(
                validated_since, graph, base_manifest, since.changed)
        else:
            manifest, documents = await asyncio.to_thread(validated, graph)
            changes = changes_between(base_manifest, manifest)
        if if_changed and changes.empty:
            return None
        await asyncio.to_thread(check_compiles, graph, changes)
        held = set() if base_manifest is None else set(base_manifest.digests())
        fresh = {d: documents[d] for d in documents if d not in held}
        with _reachable():
            version = int(await self.redis.incr(keys.seq))
            await self._write(fresh, fresh, version)
            kept = [d for d in dict.fromkeys(manifest.digests()) if d in held]
            await self._mark(kept, version)
            # The base's documents cannot have been pruned while the base was still kept:
            # only when other publishers pushed it out of retention meanwhile is a check
            # of each one needed.
            current = await self.current_version() or 0
            if base_manifest is not None and base is not None \
                    and base < current - self.retain + 1:
                if any(d not in documents for d in kept):  # encoded only what changed
                    documents = {**manifest_of(graph)[1], **documents}
                await self._claim_each(documents, kept, version)
            info = VersionInfo(
                version=version, published_at_ms=time.time_ns() // 1_000_000, note=note,
                actor=actor, base=None if base_manifest is None else base, changes=changes,
                rolled_back_from=rolled_back_from, restores=restores)
            if not await self.redis.set(keys.version(version), _ENCODER.encode(info), nx=True):
                raise ConfigError(f"{keys.version(version)} already exists; is {keys.seq} behind?")
            await self.redis.set(keys.manifest(version), _ENCODER.encode(manifest), nx=True)
            current = int(await self._advance(keys=[keys.current, keys.manifest(version)],
                                              args=[version, self.channel]))
            await self._prune_before(current)
        return Published(info, manifest, fresh)

    async def _prune_before(self, current: int) -> None:
        keys = self.keys
        await self._prune(
            keys=[keys.entities, keys.pruned],
            args=[current - self.retain + 1, keys.version_prefix, keys.manifest_prefix,
                  keys.entity_prefix])

    async def restore(self, info: VersionInfo, manifest: Manifest,
                      documents: Mapping[str, bytes]) -> int:
        """Put a version back under its own number (Redis lost it; the control plane keeps
        every version): its documents, record and manifest; the counter moves past it and
        the pointer to it, unless a newer version is current. Returns the current version.
        `documents` must hold every document the manifest names."""
        keys = self.keys
        digests = list(dict.fromkeys(manifest.digests()))
        absent = [d for d in digests if d not in documents]
        if absent:
            raise ConfigError(f"version {info.version}: {len(absent)} entity document(s) "
                              f"to restore are missing, e.g. {absent[0]}")
        version = info.version
        with _reachable():
            await self._write(documents, digests, version)
            current = int(await self._restore(
                keys=[keys.seq, keys.current, keys.version(version), keys.manifest(version)],
                args=[version, _ENCODER.encode(info), _ENCODER.encode(manifest),
                      self.channel]))
            await self._prune_before(current)
        return current

    async def _write(self, documents: Mapping[str, bytes], digests: Iterable[str],
                     version: int) -> None:
        """Write documents, each marked with `version` in the same pipeline, so one a
        crashed publish leaves behind is pruned like any other. MSET may overwrite: a
        document's key is its digest, so what is there is the same bytes."""
        keys = self.keys
        for chunk in _chunks(list(digests)):
            pipe = self.redis.pipeline(transaction=False)
            pipe.mset({keys.entity(d): documents[d] for d in chunk})
            pipe.zadd(keys.entities, dict.fromkeys(chunk, version), gt=True)
            await pipe.execute()

    async def _mark(self, digests: Sequence[str], version: int) -> None:
        """Mark documents with `version` (ZADD GT: a score only ever rises), so pruning
        keeps them as long as the version is kept."""
        for chunk in _chunks(digests, 5000):
            await self.redis.zadd(self.keys.entities, dict.fromkeys(chunk, version), gt=True)

    async def _claim_each(self, documents: dict[str, bytes], digests: Sequence[str],
                          version: int) -> None:
        """Check each document exists (marking it) and write again any that is gone."""
        keys = self.keys
        for _ in range(3):
            missing: list[str] = []
            for chunk in _chunks(digests, 5000):
                found = await self._claim(
                    keys=[keys.entities], args=[version, keys.entity_prefix, *chunk])
                missing.extend(d.decode() if isinstance(d, bytes) else d for d in found)
            if not missing:
                return
            await self._write(documents, missing, version)
            digests = missing
        raise ConfigError(f"entity documents of version {version} keep vanishing")

    async def amend(self, version: int, note: str, actor: str) -> bool:
        """Rewrite who and why of a published version (its changes and graph stay as they
        are); False when the version is not kept."""
        key = self.keys.version(version)
        with _reachable():
            raw = await self.redis.get(key)
            if raw is None:
                return False
            info = msgspec.structs.replace(decode_info(raw), note=note, actor=actor)
            return bool(await self.redis.set(key, _ENCODER.encode(info), xx=True))

    async def current_version(self) -> int | None:
        with _reachable():
            value = await self.redis.get(self.keys.current)
        return None if value is None else int(value)

    async def info(self, version: int) -> VersionInfo:
        with _reachable():
            raw = await self.redis.get(self.keys.version(version))
        if raw is None:
            raise VersionNotFound(version)
        return decode_info(raw)

    async def manifest(self, version: int) -> Manifest:
        manifest = await self._manifest_or_none(version)
        if manifest is None:
            raise VersionNotFound(version)
        return manifest

    async def _manifest_or_none(self, version: int) -> Manifest | None:
        with _reachable():
            raw = await self.redis.get(self.keys.manifest(version))
        return None if raw is None else decode_manifest(raw)

    async def documents(self, digests: Sequence[str]) -> dict[str, bytes]:
        """Entity documents by digest; VersionNotFound(0) when one is gone."""
        found: dict[str, bytes] = {}
        with _reachable():
            for chunk in _chunks(digests):
                raws = await self.redis.mget([self.keys.entity(d) for d in chunk])
                for digest, raw in zip(chunk, raws, strict=True):
                    if raw is None:
                        raise ConfigError(f"entity document {digest} is missing")
                    found[digest] = raw
        return found

    async def document(self, version: int) -> VersionDocument:
        info, graph = await asyncio.gather(self.info(version), self.load(version))
        return VersionDocument(info=info, graph=graph)

    async def load(self, version: int) -> Graph:
        manifest = await self.manifest(version)
        documents = await self.documents(list(dict.fromkeys(manifest.digests())))
        with paused_gc():
            return assemble(manifest, decode_all(manifest, documents))

    async def load_current(self) -> tuple[int, Graph] | None:
        version = await self.current_version()
        if version is None:
            return None
        return version, await self.load(version)

    async def versions(self) -> list[VersionInfo]:
        """Every kept version, oldest first (numbers lost to a crashed publish, or pruned,
        are gaps)."""
        with _reachable():
            last = int(await self.redis.get(self.keys.seq) or 0)
            first = int(await self.redis.get(self.keys.pruned) or 0) + 1
            found: list[VersionInfo] = []
            numbers = [str(n) for n in range(first, last + 1)]
            for chunk in _chunks(numbers):
                raws = await self.redis.mget([self.keys.version_prefix + n for n in chunk])
                found.extend(decode_info(raw) for raw in raws if raw is not None)
        return found

    async def diff(self, a: int, b: int) -> list[str]:
        old, new = await asyncio.gather(self.load(a), self.load(b))
        return graph_diff(old, new)

    async def rollback(self, to_version: int, note: str = "", actor: str = "") -> int:
        """Publish a new version whose graph is `to_version`'s; returns its number."""
        graph = await self.load(to_version)
        current = await self.current_version()
        published = await self._publish(graph, note or f"rollback to version {to_version}",
                                        actor, current, to_version)
        assert published is not None
        return published.version
