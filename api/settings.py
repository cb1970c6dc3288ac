"""ApiSettings: everything `turnout api` reads from `TURNOUT_*`, once, at start."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from turnout import env
from turnout.api.keys import ApiKey, parse_keys
from turnout.connections import Connections
from turnout.slow_clients import CLIENT_DEFAULTS, ClientLimits

DEFAULT_GRAPH_PREFIX = "turnout:graph"


@dataclass(frozen=True, slots=True)
class ApiSettings:
    host: str = "127.0.0.1"
    """Address the report API listens on."""
    port: int = 8081
    """Port the report API listens on."""
    clickhouse_dsn: str = ""
    database: str = "turnout"
    """ClickHouse database of the turnout tables."""
    redis_url: str = "redis://127.0.0.1:6379/0"
    graph_prefix: str = DEFAULT_GRAPH_PREFIX
    """Key prefix of the published graph in Redis (workspace time zones and currencies)."""
    postgres_url: str | None = None
    graph_retain: int = 50
    """Graph versions kept in Redis (records, manifests and the entity documents only they
    name); older ones are pruned as new ones are published (`turnout graph publish` too).
    The durable history is the control plane's."""
    api_keys: tuple[ApiKey, ...] = ()
    """Deprecated: report-only keys, one `workspace_id:sha256hex` per line (`turnout
    api-key` prints one); they open the report routes as viewer keys. Control-plane keys
    (`turnout key create`) open everything their role allows.

    Default: none"""
    rate_per_minute: int = 600
    """Requests a minute an API key may make when it has no rate of its own (token bucket
    in Redis: bursts up to this many, refilled at this rate)."""
    key_cache_s: float = 5.0
    """Seconds an API key read from PostgreSQL is trusted before it is read again: how long
    a revocation by another API process takes to apply."""
    pool_size: int = 4
    """ClickHouse clients, i.e. report queries running at once."""
    facts_ttl_s: float = 30.0
    """Seconds before workspace time zones and currencies are re-read from Redis."""
    fx_writers: tuple[str, ...] = ()
    """Workspaces whose owner keys may replace the exchange rates (`PUT /api/v1/fx/rates`).
    Rates are one table for every workspace, so by default no key may: `turnout fx import`
    with ClickHouse access does it.

    Default: none"""
    access_log: bool = False
    """Log every request."""
    publish_window_s: float = 0.25
    """Seconds after the first change of a burst that its version is published: changes
    within the window share one version."""
    publish_watch_s: float = 1.0
    """Seconds between checks that Redis still holds the latest version (a flushed Redis
    gets it back from PostgreSQL)."""

    keep_alive_s: float = 5.0
    """Seconds an idle keep-alive connection to the API stays open."""
    max_concurrency: int = 1000
    """Open connections the API serves at once; past it a new one gets 503 with
    Retry-After and is closed."""
    header_timeout_s: float = CLIENT_DEFAULTS.header_timeout_s
    """Seconds a client has to send a request's head (from when it connected, or from the
    request's first byte); later gets 408 and is closed."""
    body_timeout_s: float = CLIENT_DEFAULTS.body_timeout_s
    """Seconds a client has to send a request's body after its head; later gets 408."""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ApiSettings:
        connections = Connections.from_env(environ)
        d = cls()
        return cls(
            host=env.text("api_host", d.host, environ),
            port=env.integer("api_port", d.port, environ),
            clickhouse_dsn=connections.clickhouse_dsn,
            database=env.text("clickhouse_database", d.database, environ),
            redis_url=connections.redis_url,
            graph_prefix=env.text("graph_prefix", d.graph_prefix, environ),
            postgres_url=connections.postgres_url,
            graph_retain=max(1, env.integer("graph_retain", d.graph_retain, environ)),
            api_keys=parse_keys(env.raw("api_keys", environ)),
            rate_per_minute=max(1, env.integer("api_rate_per_minute", d.rate_per_minute,
                                               environ)),
            key_cache_s=max(0.0, env.number("api_key_cache_s", d.key_cache_s, environ)),
            pool_size=max(1, env.integer("api_pool_size", d.pool_size, environ)),
            facts_ttl_s=env.number("api_facts_ttl_s", d.facts_ttl_s, environ),
            fx_writers=env.listing("fx_writers", d.fx_writers, environ),
            access_log=env.flag("api_access_log", d.access_log, environ),
            publish_window_s=min(0.25, max(0.0, env.number("publish_window_s",
                                                            d.publish_window_s, environ))),
            publish_watch_s=max(0.05, env.number("publish_watch_s", d.publish_watch_s,
                                                 environ)),
            keep_alive_s=env.number("api_keep_alive_s", d.keep_alive_s, environ),
            max_concurrency=env.integer("api_max_concurrency", d.max_concurrency, environ),
            header_timeout_s=env.number("api_header_timeout_s", d.header_timeout_s, environ),
            body_timeout_s=env.number("api_body_timeout_s", d.body_timeout_s, environ),
        )

    @property
    def client_limits(self) -> ClientLimits:
        try:
            return ClientLimits(self.header_timeout_s, self.body_timeout_s,
                                self.max_concurrency)
        except ValueError as exc:
            raise env.SettingError(f"{env.PREFIX}API_*_TIMEOUT_S / MAX_CONCURRENCY: {exc}"
                                   ) from None
