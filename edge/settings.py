"""EdgeSettings: everything `turnout edge` reads from `TURNOUT_EDGE_*`, once, at start."""

from __future__ import annotations

import ipaddress
import logging
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from turnout import env
from turnout.backoff import Backoff
from turnout.connections import Connections
from turnout.edge.leases import LeaseSettings
from turnout.limits import DAY_MS, MAX_ATTRIBUTION_DAYS
from turnout.slow_clients import CLIENT_DEFAULTS, ClientLimits

log = logging.getLogger(__name__)

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_REPO_GEOIP = Path(__file__).resolve().parent / "geoip"
DEFAULT_CITY_DB = _REPO_GEOIP / "GeoLite2-City-Test.mmdb"
DEFAULT_ASN_DB = _REPO_GEOIP / "GeoLite2-ASN-Test.mmdb"
DEFAULT_GRAPH_PREFIX = "turnout:graph"
SECRET_VARIABLE = "TURNOUT_EDGE_SECRET"


def signing_secrets(text: bytes) -> tuple[bytes, ...]:
    """`TURNOUT_EDGE_SECRET`'s keys: comma-separated, or one a line in its `_FILE`."""
    return tuple(key.strip() for line in text.splitlines() for key in line.split(b",")
                 if key.strip())


def max_attribution_ms(days: int) -> int:
    if not 1 <= days <= MAX_ATTRIBUTION_DAYS:
        raise env.SettingError(f"{env.PREFIX}EDGE_MAX_ATTRIBUTION_DAYS: must be 1-"
                               f"{MAX_ATTRIBUTION_DAYS} (the longest window a campaign may "
                               f"have), got {days}")
    return days * DAY_MS


def parse_networks(cidrs: tuple[str, ...], name: str) -> tuple[IPNetwork, ...]:
    try:
        return tuple(ipaddress.ip_network(cidr, strict=False) for cidr in cidrs)
    except ValueError as exc:
        raise env.SettingError(f"{env.PREFIX}{name.upper()}: {exc}") from None


def reconnect_backoff(role: str, base_s: float, cap_s: float) -> Backoff:
    """Backoff(base_s, cap_s), or a SettingError naming TURNOUT_<role>_RECONNECT_*."""
    try:
        return Backoff(base=base_s, cap=cap_s)
    except ValueError as exc:
        raise env.SettingError(f"{env.PREFIX}{role}_RECONNECT_BASE_S/_CAP_S: {exc}") from None


@dataclass(frozen=True, slots=True)
class EdgeSettings:
    host: str = "127.0.0.1"
    """Address the edge listens on."""
    port: int = 8080
    """Port the edge listens on."""
    workers: int = 1
    """Worker processes (one per core); they share the port. `/metrics` answers for all of
    them, whichever answers the scrape (added up in a file in `/dev/shm`, at most 1 s
    stale; docs/decisions.md)."""
    redis_url: str = "redis://127.0.0.1:6379/0"
    graph_prefix: str = DEFAULT_GRAPH_PREFIX
    """Key prefix of the published graph in Redis (versions, current pointer, pub/sub
    channel). `turnout graph` takes `--prefix` instead."""
    trusted_proxies: tuple[IPNetwork, ...] = ()
    """Comma-separated CIDRs of the load balancers: `X-Forwarded-For` and
    `X-Forwarded-Host` (the tracking domain) are honoured only when the direct peer is one
    of them."""
    geoip_city: Path = DEFAULT_CITY_DB
    """GeoIP2 / GeoLite2 City `.mmdb` for country, region and city.

    Default: the MaxMind test database shipped in `edge/geoip/`"""
    geoip_asn: Path | None = DEFAULT_ASN_DB
    """GeoLite2 ASN `.mmdb` for ASN conditions; `none` skips ASN look-ups.

    Default: the MaxMind test database shipped in `edge/geoip/`"""
    secret: bytes = b""
    """Keys that sign the lander-click cookie and double-meta hops; set the same value on
    every edge. Several, comma-separated (or one a line in the `_FILE`): the first signs,
    every one verifies, so a new key goes first and the old one is dropped a day later
    (no cookie or hop in flight breaks). Never logged.

    Default: random per process (dev only: signed cookies do not survive a restart)"""
    secret_generated: bool = False
    cookie_domain: str = ""
    """`Domain` of the edge's cookies on the default domain (to share them across its
    subdomains), for hosts inside it; empty: the request's host only. Never used on a
    workspace's own tracking domains, nor while one of those lies inside it."""
    cookie_secure: bool = False
    """Mark the edge's cookies `Secure` (HTTPS only)."""
    bot_ip_ranges: tuple[IPNetwork, ...] = ()
    """Comma-separated CIDRs whose visitors are bots (besides user agents and prefetches)."""
    default_workspace: str = ""
    """The workspace whose fallback URL answers unknown tracking codes on the default
    domain (else 404); a workspace's own domains use its fallback URL."""
    max_url_bytes: int = 4096
    """Longest request path or query string accepted; longer gets 414."""
    max_header_bytes: int = 8192
    """Longest header value read (user agent, cookies, X-Forwarded-For)."""
    max_body_bytes: int = 65536
    """Largest postback or event body accepted; larger gets 413."""
    max_attribution_ms: int = MAX_ATTRIBUTION_DAYS * DAY_MS
    """Days after a click that its postbacks are still accepted; older click ids are refused.
    At most (and by default) the longest attribution window graph validation allows."""
    future_skew_ms: int = 300_000
    """How far ahead of the edge's clock a click id's timestamp may be (other hosts' clocks)."""
    geo_cache_size: int = 65536
    """Addresses whose GeoIP answer is kept in memory."""
    ua_cache_size: int = 16384
    """User agents whose parsed form is kept in memory."""
    drain_seconds: float = 10.0
    """On SIGTERM, how long in-flight requests and the event buffer get to finish."""
    access_log: bool = False
    """Log every request (addresses and query strings included)."""
    lease_block_seconds: float = 1.0
    """Budget and click-cap leases (edge.leases): a block taken from a Redis meter lasts
    about this long at the meter's recent rate."""
    lease_min_block: int = 50
    """Smallest lease block, in clicks' worth (also what an idle balance keeps, so a burst
    after a quiet spell finds a balance); at most lease_max_block."""
    lease_max_block: int = 500
    """Largest lease block, in clicks' worth: an edge cut off from Redis, or killed, holds
    at most this much of a meter unspent (the undershoot bound per edge)."""
    lease_low_water: float = 0.5
    """A balance below this share of its last block takes the next block."""
    lease_settle_ms: int = 250
    """Spent units are reported to the meters this often."""
    lease_idle_ms: int = 5000
    """A balance without a click this long goes back to the meter (down to one minimum
    block; all of it once the meter is exhausted)."""
    overlay_poll_seconds: float = 2.0
    """The governor's overlay (capped offers, blocked campaigns) is read this often besides
    its change notices."""
    reconnect_base_s: float = 0.1
    """First reconnect delay after Redis failed (graph follower, overlay, lease takes);
    each failure in a row doubles its ceiling, and the wait is a uniform draw below it
    (full jitter, so edges that lost Redis together do not come back in lockstep)."""
    reconnect_cap_s: float = 1.0
    """Ceiling of the reconnect delay: an edge uses a Redis that came back within about
    this long. At least reconnect_base_s."""

    header_timeout_s: float = CLIENT_DEFAULTS.header_timeout_s
    """Seconds a client has to send a request's whole head: from when it connected (the
    first request) or from the request's first byte; later gets 408 and is closed (a
    connection on which nothing came is just closed)."""
    body_timeout_s: float = CLIENT_DEFAULTS.body_timeout_s
    """Seconds a client has to send a request's body after its head; later gets 408."""
    keep_alive_s: float = 5.0
    """Seconds an idle keep-alive connection stays open."""
    max_connections: int = CLIENT_DEFAULTS.max_connections
    """Open connections per worker; past it a new one gets 503 with Retry-After and is
    closed. The open files limit is raised at start to what this needs, if allowed."""
    max_head_bytes: int = CLIENT_DEFAULTS.max_head_bytes
    """Largest request head (request line and headers) read; larger gets 431."""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> EdgeSettings:
        connections = Connections.from_env(environ)
        secret = env.raw("edge_secret", environ) or ""
        generated = not signing_secrets(secret.encode())
        if generated:
            # Random per process: signed cookies will not survive a restart or cross workers
            # (the CLI generates one for all workers). Say so, never print the value.
            log.warning("%s is not set: using a random secret (dev only)", SECRET_VARIABLE)
            secret = secrets.token_urlsafe(32)
        asn = env.text("edge_geoip_asn", str(DEFAULT_ASN_DB), environ)
        d = cls()
        return cls(
            host=env.text("edge_host", d.host, environ),
            port=env.integer("edge_port", d.port, environ),
            workers=max(1, env.integer("edge_workers", d.workers, environ)),
            redis_url=connections.redis_url,
            graph_prefix=env.text("graph_prefix", d.graph_prefix, environ),
            trusted_proxies=parse_networks(
                env.listing("edge_trusted_proxies", ("127.0.0.1/32", "::1/128"), environ),
                "edge_trusted_proxies",
            ),
            geoip_city=Path(env.text("edge_geoip_city", str(DEFAULT_CITY_DB), environ)),
            geoip_asn=None if asn.lower() == "none" else Path(asn),
            secret=secret.encode(),
            secret_generated=generated,
            cookie_domain=env.text("edge_cookie_domain", d.cookie_domain, environ),
            cookie_secure=env.flag("edge_cookie_secure", d.cookie_secure, environ),
            bot_ip_ranges=parse_networks(
                env.listing("edge_bot_ip_ranges", (), environ), "edge_bot_ip_ranges"
            ),
            default_workspace=env.text("edge_default_workspace", d.default_workspace, environ),
            max_url_bytes=env.integer("edge_max_url_bytes", d.max_url_bytes, environ),
            max_header_bytes=env.integer("edge_max_header_bytes", d.max_header_bytes, environ),
            max_body_bytes=env.integer("edge_max_body_bytes", d.max_body_bytes, environ),
            max_attribution_ms=max_attribution_ms(
                env.integer("edge_max_attribution_days", MAX_ATTRIBUTION_DAYS, environ)
            ),
            future_skew_ms=env.integer("edge_future_skew_ms", d.future_skew_ms, environ),
            geo_cache_size=env.integer("edge_geo_cache_size", d.geo_cache_size, environ),
            ua_cache_size=env.integer("edge_ua_cache_size", d.ua_cache_size, environ),
            drain_seconds=env.number("edge_drain_seconds", d.drain_seconds, environ),
            access_log=env.flag("edge_access_log", d.access_log, environ),
            lease_block_seconds=env.number("edge_lease_block_seconds",
                                           d.lease_block_seconds, environ),
            lease_min_block=env.integer("edge_lease_min_block", d.lease_min_block, environ),
            lease_max_block=env.integer("edge_lease_max_block", d.lease_max_block, environ),
            lease_low_water=env.number("edge_lease_low_water", d.lease_low_water, environ),
            lease_settle_ms=env.integer("edge_lease_settle_ms", d.lease_settle_ms, environ),
            lease_idle_ms=env.integer("edge_lease_idle_ms", d.lease_idle_ms, environ),
            overlay_poll_seconds=env.number("edge_overlay_poll_seconds",
                                            d.overlay_poll_seconds, environ),
            reconnect_base_s=env.number("edge_reconnect_base_s", d.reconnect_base_s, environ),
            reconnect_cap_s=env.number("edge_reconnect_cap_s", d.reconnect_cap_s, environ),
            header_timeout_s=env.number("edge_header_timeout_s", d.header_timeout_s, environ),
            body_timeout_s=env.number("edge_body_timeout_s", d.body_timeout_s, environ),
            keep_alive_s=env.number("edge_keep_alive_s", d.keep_alive_s, environ),
            max_connections=env.integer("edge_max_connections", d.max_connections, environ),
            max_head_bytes=env.integer("edge_max_head_bytes", d.max_head_bytes, environ),
        )

    @property
    def client_limits(self) -> ClientLimits:
        try:
            return ClientLimits(self.header_timeout_s, self.body_timeout_s,
                                self.max_connections, self.max_head_bytes)
        except ValueError as exc:
            raise env.SettingError(f"{env.PREFIX}EDGE_*_TIMEOUT_S / MAX_CONNECTIONS / "
                                   f"MAX_HEAD_BYTES: {exc}") from None

    @property
    def leases(self) -> LeaseSettings:
        try:
            return LeaseSettings(self.lease_block_seconds,
                                 min(self.lease_min_block, self.lease_max_block),
                                 self.lease_max_block, self.lease_low_water,
                                 self.lease_settle_ms, self.lease_idle_ms)
        except ValueError as exc:
            raise env.SettingError(f"{env.PREFIX}EDGE_LEASE_*: {exc}") from None

    @property
    def reconnect(self) -> Backoff:
        """The backoff of everything on the edge that reconnects to Redis."""
        return reconnect_backoff("EDGE", self.reconnect_base_s, self.reconnect_cap_s)

    @property
    def secrets(self) -> tuple[bytes, ...]:
        """The signing keys in `secret`: the first signs, every one verifies."""
        return signing_secrets(self.secret)

    def __repr__(self) -> str:  # the secret must never reach a log line
        return f"EdgeSettings(host={self.host!r}, port={self.port}, workers={self.workers})"
