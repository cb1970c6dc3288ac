"""What reports need from the campaign graph in Redis: workspace time zones and currencies,
and the order of each rule's destinations (the A/B "first" control).

Reports keep working through a Redis outage: the last facts loaded stay in use. A
workspace whose facts were never loaded is refused (FactsMissing), never reported in UTC
with no currency.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field

from turnout.config.follower import GraphFollower
from turnout.config.model import DEFAULT_RULE_ID, Graph
from turnout.reports.errors import FactsMissing


@dataclass(frozen=True, slots=True)
class WorkspaceFacts:
    timezone: str = "UTC"
    currency: str = ""


@dataclass(frozen=True, slots=True)
class GraphFacts:
    version: int | None = None
    workspaces: dict[str, WorkspaceFacts] = field(default_factory=dict)
    # (campaign id, rule id) -> destination ids in graph order
    rules: dict[tuple[str, str], tuple[str, ...]] = field(default_factory=dict)

    def workspace(self, workspace_id: str) -> WorkspaceFacts:
        facts = self.workspaces.get(workspace_id)
        if facts is None:
            why = ("no campaign graph could be loaded from Redis" if self.version is None
                   else f"graph version {self.version} has no such workspace")
            raise FactsMissing(f"the time zone and currency of workspace {workspace_id!r} "
                               f"are unknown ({why})")
        return facts


def facts_from_graph(version: int | None, graph: Graph) -> GraphFacts:
    rules: dict[tuple[str, str], tuple[str, ...]] = {}
    for campaign in graph.campaigns:
        for rule in campaign.rules:
            rules[(campaign.id, rule.id)] = tuple(d.id for d in rule.destinations)
        rules[(campaign.id, DEFAULT_RULE_ID)] = tuple(d.id for d in campaign.default)
    workspaces = {w.id: WorkspaceFacts(w.timezone, w.currency) for w in graph.workspaces}
    return GraphFacts(version, workspaces, rules)


async def load_facts(redis_url: str, prefix: str) -> GraphFacts:
    """Facts of the current graph version; empty facts when nothing is published."""
    from redis.asyncio import Redis

    from turnout.config.store import GraphStore

    redis = Redis.from_url(redis_url, socket_timeout=2.0, socket_connect_timeout=2.0)
    try:
        current = await GraphStore(redis, prefix).load_current()
    finally:
        await redis.aclose()
    return GraphFacts() if current is None else facts_from_graph(*current)


class FactsCache:
    """The facts of the published graph, kept current by a follower of the graph store: a
    publish shows at once, and the pointer is re-read at least every `ttl_s` seconds in
    case a notice was lost. While Redis is away the facts loaded last stay in use.

    Following starts with the first `get`, which waits up to `first_wait_s` for the
    current facts; `aclose` stops it.
    """

    def __init__(self, redis_url: str, prefix: str, ttl_s: float = 30.0,
                 first_wait_s: float = 2.0) -> None:
        self.ttl_s, self.first_wait_s = ttl_s, first_wait_s
        self._follower = GraphFollower(redis_url, prefix, poll_interval=ttl_s,
                                       name="turnout-graph-facts")
        self._facts = GraphFacts()
        self._task: asyncio.Task[None] | None = None
        self._waited = False

    async def get(self) -> GraphFacts:
        if self._task is None:
            self._task = asyncio.create_task(self._follow(), name="graph-facts-follow")
        if not self._waited:
            await self._follower.caught_up(self.first_wait_s)
            self._waited = True
        return self._facts

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _follow(self) -> None:
        async with contextlib.aclosing(self._follower.follow()) as documents:
            async for document in documents:
                self._facts = facts_from_graph(document.version, document.graph)


class StaticFacts:
    """Fixed facts, for embedding and tests."""

    def __init__(self, facts: GraphFacts) -> None:
        self._facts = facts

    async def get(self) -> GraphFacts:
        return self._facts
