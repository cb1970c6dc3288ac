"""The edge ASGI app in process, for unit tests: a list for a sink, a fixed graph."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from tests.memory_ledger import MemoryLedger
from turnout.config.compiled import CompiledGraph
from turnout.edge.app import EdgeApp
from turnout.edge.graph import GraphHolder
from turnout.edge.settings import EdgeSettings, parse_networks


class ListSink:
    """Keeps every emitted event as (topic, key, struct)."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str, Any]] = []

    async def start(self) -> None:
        pass

    async def close(self, timeout: float) -> None:
        pass

    def emit(self, topic: str, key: str, struct: Any) -> None:
        self.events.append((topic, key, struct))

    def of(self, topic: str) -> list[Any]:
        return [struct for t, _, struct in self.events if t == topic]


class StaticHolder(GraphHolder):
    """Serves the graph installed into it; never talks to Redis."""

    async def start(self, wait: float = 0) -> None:
        pass

    async def stop(self) -> None:
        pass


@contextlib.asynccontextmanager
async def in_process_edge(graph: CompiledGraph, secret: bytes,
                          trusted: tuple[str, ...] = ("127.0.0.1/32",), **more: Any
                          ) -> AsyncIterator[tuple[EdgeApp, ListSink]]:
    """A started EdgeApp serving `graph`, trusting `trusted` as proxies (`more`: other
    EdgeSettings fields)."""
    # Requests through httpx.ASGITransport never suspend, so the lease task would never get
    # to refill between them: the first blocks (taken at startup) are made big enough for a
    # whole test, unless a test asks for other lease settings.
    more.setdefault("lease_min_block", 1_000_000)
    more.setdefault("lease_max_block", 1_000_000)
    settings = EdgeSettings(secret=secret, trusted_proxies=parse_networks(trusted, "x"), **more)
    holder = StaticHolder("redis://unused", "p", settings.default_workspace)
    holder.install(graph)
    sink = ListSink()
    # Budgets and click caps lease from meters in memory; no overlay (no Redis).
    app = EdgeApp(settings, lambda: sink, holder, ledger=MemoryLedger(), follow_overlay=False)
    await app.startup()
    try:
        yield app, sink
    finally:
        await app.shutdown()
