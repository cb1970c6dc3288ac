"""The edge ASGI application: raw fast paths for clicks, Starlette for the rest.

Both come from one route table (edge.routes). The click paths (/c/{code}, /click,
/click/{n}, /r) are quick routes (edge.quick): one synchronous call from scope to answer,
without a Starlette Request. `EdgeApp.quick_route` is how both doors find them:
`EdgeApp.__call__` (plain ASGI, any server) and the edge's HTTP protocol (edge.protocol),
which answers them without an ASGI request cycle at all. Everything else goes to the
Starlette app of the same table. Startup and shutdown are the ASGI lifespan:
on SIGTERM uvicorn stops accepting, waits for in-flight requests, then runs shutdown,
which closes the sink (sending or spooling every buffered event) before the process exits.
Shutdown first gives every lease balance back to its meter (edge.leases) and stops
following the overlay (edge.overlay).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import Callable
from typing import Any

import redis.asyncio as aioredis
import redis.exceptions
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from starlette.applications import Starlette
from starlette.types import Receive, Scope, Send

from turnout.clickid import ClickIds
from turnout.config.meters import Meters
from turnout.edge.addresses import ProxyTrust
from turnout.edge.context import ContextCodec
from turnout.edge.endpoints import Disconnects
from turnout.edge.geo import GeoIP
from turnout.edge.graph import GraphHolder, Snapshot
from turnout.edge.leases import Leases, Ledger
from turnout.edge.metrics import Metrics
from turnout.edge.money import CostRefusals
from turnout.edge.observe import Observer
from turnout.edge.overlay import OverlayFollower
from turnout.edge.quick import QuickRoute
from turnout.edge.routes import Quick, QuickPaths, starlette_app, table
from turnout.edge.runtime import Emitter, Runtime
from turnout.edge.settings import EdgeSettings
from turnout.edge.useragent import UserAgents
from turnout.slow_clients import ClientStats

log = logging.getLogger(__name__)
_UNREACHABLE = (redis.exceptions.RedisError, OSError)

SinkFactory = Callable[[], Any]
# Young-generation collections every 700 allocations show up as tail latency under load;
# the graph and caches are frozen out of the collector anyway (GraphHolder.install).
GC_THRESHOLDS = (50_000, 20, 100)


def default_sink() -> Any:
    from turnout.edge.sink.settings import SinkSettings
    from turnout.edge.sink.sink import EventSink

    return EventSink(SinkSettings.from_env())


class EdgeApp:
    def __init__(self, settings: EdgeSettings, sink_factory: SinkFactory = default_sink,
                 holder: GraphHolder | None = None, graph_wait: float = 5.0,
                 metrics: Metrics | None = None, ledger: Ledger | None = None,
                 follow_overlay: bool = True) -> None:
        self.settings = settings
        self._ledger = ledger  # None: the Redis meters (config.meters) at settings.redis_url
        self._follow_overlay = follow_overlay
        self._redis: aioredis.Redis | None = None
        self.leases: Leases | None = None
        self.overlay: OverlayFollower | None = None
        self._metrics = metrics  # a worker's of `--workers N` has its slot (edge.server)
        self._sink_factory = sink_factory
        self._holder = holder
        self._graph_wait = graph_wait
        self.runtime: Runtime | None = None
        self.sink: Any = None
        self._geo: GeoIP | None = None
        self._sink_running = False
        self._quick = QuickPaths(())  # none before startup: every path gets 503
        self._router: Starlette | None = None
        self.clients = ClientStats()  # counted by the protocol (edge.protocol)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            route = self._quick.match(scope["path"])
            if route is not None:
                await route.serve(scope, send)
            elif self._router is not None:
                await self._router(scope, receive, send)
            else:
                await _unavailable(send)
        elif scope["type"] == "lifespan":
            await self._lifespan(receive, send)

    def quick_route(self, path: str) -> QuickRoute | None:
        """The quick route serving `path`, or None (before startup, or not a click path)."""
        return self._quick.match(path)

    async def startup(self) -> None:
        settings = self.settings
        gc.set_threshold(*GC_THRESHOLDS)
        self._geo = geo = GeoIP(settings.geoip_city, settings.geoip_asn, settings.bot_ip_ranges,
                                settings.geo_cache_size)
        ids = ClickIds()
        observer = Observer(geo, UserAgents(settings.ua_cache_size),
                            ProxyTrust(settings.trusted_proxies), ids, settings.max_header_bytes,
                            settings.geo_cache_size)
        holder = self._holder or GraphHolder(settings.redis_url, settings.graph_prefix,
                                             settings.default_workspace,
                                             backoff=settings.reconnect)
        self.sink = sink = self._sink_factory()
        metrics = self._metrics if self._metrics is not None else Metrics()
        emitter: Emitter = sink
        if self._ledger is None or self._follow_overlay:
            self._redis = aioredis.Redis.from_url(settings.redis_url, socket_timeout=2,
                                                  socket_connect_timeout=2,
                                                  retry=Retry(NoBackoff(), 0))
        ledger = self._ledger or Meters(self._redis, settings.graph_prefix)
        self.leases = leases = Leases(ledger, settings.leases, backoff=settings.reconnect)
        self.runtime = runtime = Runtime(settings, holder, observer, ids,
                                         ContextCodec(settings.secrets), emitter, metrics,
                                         leases)

        def installed(snapshot: Snapshot) -> None:  # prefetch the new graph's meters
            if snapshot.limits is not None:
                snapshot.limits.prefetch(leases, runtime.days, leases.now_ms())

        holder.on_install = installed
        if holder.snapshot is not None:
            installed(holder.snapshot)
        metrics.gauge("turnout_edge_graph_version", "Graph version being served.",
                      lambda: holder.version)
        metrics.gauge("turnout_edge_graph_swaps_total", "Graph versions swapped in.",
                      lambda: holder.swaps, "counter")
        metrics.gauge("turnout_edge_graph_store_connected", "1 while following Redis.",
                      lambda: int(holder.connected))
        metrics.gauge("turnout_edge_click_cost_refused_total",
                      "Clicks counted at cost 0 because their cost token was not an amount.",
                      lambda: CostRefusals.total, "counter")
        metrics.gauge("turnout_edge_client_disconnects_total",
                      "Requests whose client went away before its body arrived.",
                      lambda: Disconnects.total, "counter")
        stats = getattr(sink, "stats", None)
        if stats is not None and hasattr(stats, "prometheus"):
            metrics.sections.append(lambda: sink.stats.prometheus())
        metrics.sections.append(leases.prometheus)
        metrics.sections.append(lambda: self.clients.prometheus("turnout_edge"))
        await sink.start()
        self._sink_running = True
        metrics.start()
        if self._follow_overlay:
            assert self._redis is not None
            self.overlay = follower = OverlayFollower(self._redis, settings.graph_prefix,
                                                      holder.apply,
                                                      settings.overlay_poll_seconds,
                                                      backoff=settings.reconnect)
            metrics.gauge("turnout_edge_overlay_seq", "Overlay sequence number applied.",
                          lambda: follower.seq)
            metrics.gauge("turnout_edge_overlay_capped_offers",
                          "Offers the overlay caps now.",
                          lambda: len(follower.current.capped_offers))
            metrics.gauge("turnout_edge_overlay_blocked_campaigns",
                          "Campaigns the overlay blocks now.",
                          lambda: len(follower.current.blocked_campaigns))
            with contextlib.suppress(*_UNREACHABLE):
                await follower.refresh()  # before the first graph: it compiles with them
            follower.start()
        await holder.start(self._graph_wait)
        # The first blocks, before /readyz: the first clicks find a balance.
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(leases.step(leases.now_ms()), 2.0)
        leases.start()
        paths = table(runtime, lambda: self._sink_running)
        self._router = starlette_app(paths)
        self._quick = QuickPaths(entry for entry in paths if isinstance(entry, Quick))
        self._holder = holder
        if holder.snapshot is None:
            log.warning("no campaign graph yet: /readyz answers 503 until one is published")

    async def shutdown(self) -> None:
        if self.overlay is not None:
            await self.overlay.stop()
        if self._holder is not None:
            await self._holder.stop()
        if self.leases is not None:
            await self.leases.close()  # after the last click: every balance goes back
        if self._redis is not None:
            await self._redis.aclose()
            self._redis = None
        if self.sink is not None and self._sink_running:
            self._sink_running = False
            await self.sink.close(self.settings.drain_seconds)
        if self.runtime is not None:
            await self.runtime.metrics.close()  # after the sink: its last counts are in
        if self._geo is not None:
            self._geo.close()

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.startup()
                except Exception as exc:
                    log.exception("edge startup failed")
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                try:
                    await asyncio.shield(self.shutdown())
                except Exception as exc:
                    log.exception("edge shutdown failed")
                    await send({"type": "lifespan.shutdown.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.shutdown.complete"})
                return


async def _unavailable(send: Send) -> None:
    body = b"starting"
    await send({"type": "http.response.start", "status": 503,
                "headers": [(b"content-type", b"text/plain"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
