"""What reports need from the campaign graph in Redis: workspace time zones and currencies,
and the order of each rule's destinations (the A/B "first" control).

Reports keep working through a Redis outage: the last facts loaded stay in use. A
workspace whose facts were never loaded is refused (FactsMissing), never reported in UTC
with no currency.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from turnout.config.errors import ConfigError
from turnout.config.model import DEFAULT_RULE_ID, Graph
from turnout.reports.errors import FactsMissing

log = logging.getLogger(__name__)


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
    """Facts reloaded at most every `ttl_s`; a failed reload keeps the previous facts."""

    def __init__(self, redis_url: str, prefix: str, ttl_s: float = 30.0) -> None:
        self.redis_url, self.prefix, self.ttl_s = redis_url, prefix, ttl_s
        self._facts = GraphFacts()
        self._loaded_at = float("-inf")

    async def get(self) -> GraphFacts:
        now = time.monotonic()
        if now - self._loaded_at >= self.ttl_s:
            self._loaded_at = now
            try:
                self._facts = await load_facts(self.redis_url, self.prefix)
            except (ConfigError, OSError) as exc:
                log.warning("graph facts not refreshed, using the previous ones: %s", exc)
        return self._facts


class StaticFacts:
    """Fixed facts, for embedding and tests."""

    def __init__(self, facts: GraphFacts) -> None:
        self._facts = facts

    async def get(self) -> GraphFacts:
        return self._facts
