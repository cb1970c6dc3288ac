"""Versioned graph publish in Redis: a manifest per version, a document per entity.

Keys (prefix `p`, default `turnout:graph`):
  {p}:seq             INCR counter handing out version numbers
  {p}:version:{n}     version n's record: who, when, note, and what it changed (VersionInfo)
  {p}:manifest:{n}    version n's manifest: each entity's id and digest (config.manifest)
  {p}:entity:{digest} one entity's JSON document, shared by every version naming it
  {p}:entities        sorted set: digest -> the newest version naming it (for pruning)
  {p}:current         the published version; only ever moves forward (compare-and-set)
  {p}:published       pub/sub channel carrying each new current version number

A publisher writes the documents its base (the current version) does not name, then,
atomically, checks that every document of its manifest exists and marks each with its new
version number (so pruning cannot take it), writes the record and the manifest (SET NX),
and moves `current` to its version only if that is higher than what is there. Two racing
publishers therefore never leave `current` on an older version or on a missing manifest.
History is never rewritten: a rollback publishes a new version equal to the old one.

Retention: only the newest `retain` version numbers keep their record and manifest, and a
document goes when no kept version names it; the durable history is the control plane's.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Final

import msgspec
import redis.asyncio as aioredis
import redis.exceptions

from turnout.config.compile import compile_version
from turnout.config.diff import graph_diff
from turnout.config.errors import ConfigError, GraphInvalid, StoreUnavailable, VersionNotFound
from turnout.config.manifest import (
    CAMPAIGNS,
    Changes,
    Manifest,
    assemble,
    changes_between,
    decode_all,
    manifest_of,
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


def check_compiles(graph: Graph, changes: Changes) -> None:
    """Prove every edge can load a validated `graph`: compile what an edge following the
    version before would compile: everything when `changes` touch a shared entity (as for a
    first version), else the campaigns they changed."""
    chosen = graph.campaigns
    if not changes.shared:
        changed = set(changes.upserted.get(CAMPAIGNS, ()))
        chosen = tuple(c for c in graph.campaigns if c.id in changed)
    if chosen or changes.shared:
        shared = msgspec.structs.replace(graph, campaigns=())
        compile_version(shared, 0, chosen, [c.id for c in chosen])


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

    async def publish(self, graph: Graph, note: str = "", actor: str = "") -> int:
        """Validate, prove it compiles, and publish; returns the new version. Raises
        GraphInvalid (with every problem) and writes nothing when the graph has any."""
        return await self._publish(graph, note, actor, None, None)

    async def _publish(self, graph: Graph, note: str, actor: str,
                       rolled_back_from: int | None, restores: int | None) -> int:
        manifest, documents = await asyncio.to_thread(validated, graph)
        keys = self.keys
        with _reachable():
            base = await self.current_version()
            base_manifest = None if base is None else await self._manifest_or_none(base)
        changes = changes_between(base_manifest, manifest)
        await asyncio.to_thread(check_compiles, graph, changes)
        held = set() if base_manifest is None else set(base_manifest.digests())
        with _reachable():
            await self._write(documents, [d for d in documents if d not in held])
            version = int(await self.redis.incr(keys.seq))
            digests = list(documents)
            for _ in range(3):
                missing: list[str] = []
                for chunk in _chunks(digests, 5000):
                    found = await self._claim(
                        keys=[keys.entities], args=[version, keys.entity_prefix, *chunk])
                    missing.extend(d.decode() if isinstance(d, bytes) else d for d in found)
                if not missing:
                    break
                await self._write(documents, missing)  # pruned under us: write them again
                digests = missing
            else:
                raise ConfigError(f"entity documents of version {version} keep vanishing")
            info = VersionInfo(
                version=version, published_at_ms=time.time_ns() // 1_000_000, note=note,
                actor=actor, base=None if base_manifest is None else base, changes=changes,
                rolled_back_from=rolled_back_from, restores=restores)
            if not await self.redis.set(keys.version(version), _ENCODER.encode(info), nx=True):
                raise ConfigError(f"{keys.version(version)} already exists; is {keys.seq} behind?")
            await self.redis.set(keys.manifest(version), _ENCODER.encode(manifest), nx=True)
            current = int(await self._advance(keys=[keys.current, keys.manifest(version)],
                                              args=[version, self.channel]))
            await self._prune(
                keys=[keys.entities, keys.pruned],
                args=[current - self.retain + 1, keys.version_prefix, keys.manifest_prefix,
                      keys.entity_prefix])
        return version

    async def _write(self, documents: dict[str, bytes], digests: Iterable[str]) -> None:
        pipe = self.redis.pipeline(transaction=False)
        pending = 0
        for digest in digests:
            pipe.set(self.keys.entity(digest), documents[digest], nx=True)
            pending += 1
            if pending == _CHUNK:
                await pipe.execute()
                pending = 0
        if pending:
            await pipe.execute()

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
        return await self._publish(graph, note or f"rollback to version {to_version}", actor,
                                   current, to_version)
