"""GovernorSettings: everything `turnout governor` reads from `TURNOUT_*`, once, at start."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from turnout import env
from turnout.config.store import DEFAULT_PREFIX
from turnout.connections import Connections


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
        )
