"""Versioned graph publish in Redis.

Keys (prefix `p`, default `turnout:graph`):
  {p}:seq          INCR counter handing out version numbers
  {p}:version:{n}  the immutable JSON document of version n, written once (SET NX)
  {p}:current      the published version; only ever moves forward (compare-and-set in Lua)
  {p}:published    pub/sub channel carrying each new current version number

A publisher takes a number, writes its document, then moves `current` to it only if it is
higher than what is there and the document exists. Two racing publishers therefore never
leave `current` on an older version or on a missing document; a slower publisher's
version simply stays in the history. History is never rewritten: a rollback publishes a
new version whose graph equals the old one.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Final

import msgspec
import redis.asyncio as aioredis
import redis.exceptions

from turnout.config.compile import compile_graph
from turnout.config.diff import graph_diff
from turnout.config.errors import ConfigError, StoreUnavailable, VersionNotFound
from turnout.config.model import Graph

DEFAULT_PREFIX: Final = "turnout:graph"
_MGET_CHUNK: Final = 100

# KEYS: current, version document. ARGV: version, channel.
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


class VersionDocument(msgspec.Struct, kw_only=True, omit_defaults=True):
    version: int
    published_at_ms: int
    graph: Graph
    note: str = ""
    rolled_back_from: int | None = None  # the version that was current at the rollback
    restores: int | None = None  # the version whose graph this one brings back


class VersionInfo(msgspec.Struct, frozen=True, kw_only=True):
    """A version's metadata (the document without its graph)."""

    version: int
    published_at_ms: int
    note: str = ""
    rolled_back_from: int | None = None
    restores: int | None = None


_ENCODER: Final = msgspec.json.Encoder()
_DOCUMENT: Final = msgspec.json.Decoder(VersionDocument)
_INFO: Final = msgspec.json.Decoder(VersionInfo)  # skips the graph without building it


def decode_document(raw: bytes) -> VersionDocument:
    return _DOCUMENT.decode(raw)


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

    def version(self, version: int) -> str:
        return f"{self.prefix}:version:{version}"


@contextmanager
def _reachable() -> Iterator[None]:
    try:
        yield
    except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError) as exc:
        raise StoreUnavailable(f"Redis unavailable: {exc}") from exc


class GraphStore:
    def __init__(self, redis: aioredis.Redis, prefix: str = DEFAULT_PREFIX) -> None:
        self.redis = redis
        self.prefix = prefix
        self.keys = keys = GraphKeys(prefix)
        self.channel = keys.channel
        self._seq = keys.seq
        self._current = keys.current
        self._key = keys.version
        self._advance = redis.register_script(_ADVANCE)

    async def publish(self, graph: Graph, note: str = "") -> int:
        """Validate, compile and publish; returns the new version. Raises GraphInvalid (with
        every problem) and writes nothing when the graph has any problem."""
        return await self._publish(graph, note, None, None)

    async def _publish(self, graph: Graph, note: str, rolled_back_from: int | None,
                       restores: int | None) -> int:
        # Compiling (which validates first) proves every edge will be able to load it.
        compile_graph(graph, version=0)
        with _reachable():
            version = int(await self.redis.incr(self._seq))
            document = VersionDocument(
                version=version,
                published_at_ms=time.time_ns() // 1_000_000,
                graph=graph,
                note=note,
                rolled_back_from=rolled_back_from,
                restores=restores,
            )
            if not await self.redis.set(self._key(version), _ENCODER.encode(document), nx=True):
                raise ConfigError(f"{self._key(version)} already exists; is {self._seq} behind?")
            await self._advance(keys=[self._current, self._key(version)],
                                args=[version, self.channel])
        return version

    async def current_version(self) -> int | None:
        with _reachable():
            value = await self.redis.get(self._current)
        return None if value is None else int(value)

    async def document(self, version: int) -> VersionDocument:
        with _reachable():
            raw = await self.redis.get(self._key(version))
        if raw is None:
            raise VersionNotFound(version)
        return decode_document(raw)

    async def load(self, version: int) -> Graph:
        return (await self.document(version)).graph

    async def load_current(self) -> tuple[int, Graph] | None:
        version = await self.current_version()
        if version is None:
            return None
        return version, await self.load(version)

    async def versions(self) -> list[VersionInfo]:
        """Every stored version, oldest first (numbers lost to a crashed publish are gaps)."""
        with _reachable():
            last = int(await self.redis.get(self._seq) or 0)
            found: list[VersionInfo] = []
            for start in range(1, last + 1, _MGET_CHUNK):
                numbers = range(start, min(start + _MGET_CHUNK, last + 1))
                raws = await self.redis.mget([self._key(n) for n in numbers])
                found.extend(_INFO.decode(raw) for raw in raws if raw is not None)
        return found

    async def diff(self, a: int, b: int) -> list[str]:
        old, new = await asyncio.gather(self.load(a), self.load(b))
        return graph_diff(old, new)

    async def rollback(self, to_version: int, note: str = "") -> int:
        """Publish a new version whose graph is `to_version`'s; returns its number."""
        graph = await self.load(to_version)
        current = await self.current_version()
        return await self._publish(graph, note or f"rollback to version {to_version}",
                                   current, to_version)
