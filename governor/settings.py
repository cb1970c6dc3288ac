"""GovernorSettings: everything `turnout governor` reads from `TURNOUT_*`, once, at start."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from turnout import env
from turnout.backoff import Backoff
from turnout.config.store import DEFAULT_PREFIX
from turnout.connections import Connections
from turnout.edge.settings import reconnect_backoff


@dataclass(frozen=True, slots=True)
class GovernorSettings:
    host: str = "127.0.0.1"
    """Address /healthz, /readyz and /metrics listen on."""
    port: int = 8082
    """Port /healthz, /readyz and /metrics listen on."""
    interval_s: float = 2.0
    """Seconds between the leader's passes (each runs every task once)."""
    lease_s: float = 10.0
    """Seconds the leader's Redis lock lasts unless renewed (it is renewed every pass and
    every lease/3 s): a leader killed outright is replaced within this time."""
    clickhouse_dsn: str = ""
    database: str = "turnout"
    """ClickHouse database of the turnout tables."""
    redis_url: str = "redis://127.0.0.1:6379/0"
    graph_prefix: str = DEFAULT_PREFIX
    """Key prefix of the published graph in Redis (the overlay and meters live beside it)."""
    postgres_url: str | None = None
    graph_retain: int = 50
    """Graph versions kept in Redis when the governor publishes (as `turnout api`)."""
    http_timeout_s: float = 5.0
    """Seconds an outgoing postback or webhook may take before it counts as timed out."""
    reconnect_base_s: float = 0.25
    """First wait after a pass skipped because Redis or PostgreSQL was unreachable (also
    the graph follower's and the publisher's first reconnect delay); each skip in a row
    doubles its ceiling, and the wait is a uniform draw below it (full jitter)."""
    reconnect_cap_s: float = 2.0
    """Ceiling of that wait (at least reconnect_base_s; the pass interval still applies
    when it is longer): a store that came back is used within about this long."""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> GovernorSettings:
        connections = Connections.from_env(environ)
        d = cls()
        return cls(
            host=env.text("governor_host", d.host, environ),
            port=env.integer("governor_port", d.port, environ),
            interval_s=max(0.05, env.number("governor_interval_s", d.interval_s, environ)),
            lease_s=max(1.0, env.number("governor_lease_s", d.lease_s, environ)),
            clickhouse_dsn=connections.clickhouse_dsn,
            database=env.text("clickhouse_database", d.database, environ),
            redis_url=connections.redis_url,
            graph_prefix=env.text("graph_prefix", d.graph_prefix, environ),
            postgres_url=connections.postgres_url,
            graph_retain=max(1, env.integer("graph_retain", d.graph_retain, environ)),
            http_timeout_s=max(0.1, env.number("governor_http_timeout_s", d.http_timeout_s,
                                               environ)),
            reconnect_base_s=env.number("governor_reconnect_base_s", d.reconnect_base_s,
                                        environ),
            reconnect_cap_s=env.number("governor_reconnect_cap_s", d.reconnect_cap_s, environ),
        )

    @property
    def reconnect(self) -> Backoff:
        """The backoff of the governor's reconnects (passes, graph follower, publisher)."""
        return reconnect_backoff("GOVERNOR", self.reconnect_base_s, self.reconnect_cap_s)
