"""The report API and the admin API: one Starlette app under /api/v1.

Every /api/v1 route is in the one route table (api/admin/routes.py) and needs
`Authorization: Bearer <key>` (api/admin/auth.py); the key's workspace is the only
workspace a report can read (a `workspace` parameter naming another one is 403).
ClickHouse is called from worker threads through a small client pool.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Final, Protocol, TypeVar

import anyio.to_thread
import orjson
import redis.asyncio as aioredis
from clickhouse_connect.driver.client import Client
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from turnout.api import problems, report_routes
from turnout.api.admin import routes as admin_routes
from turnout.api.admin.auth import AdminAuth
from turnout.api.admin.openapi import merge_admin
from turnout.api.admin.principal import principal_of
from turnout.api.admin.ratelimit import RateLimiter
from turnout.api.admin.state import AdminState
from turnout.api.keys import KeyRing
from turnout.api.openapi import openapi_document
from turnout.api.pool import ClientFactory, ClientPool
from turnout.api.settings import ApiSettings
from turnout.config.store import GraphStore
from turnout.control.publisher import Publisher
from turnout.reports import format as fmt
from turnout.reports import held, not_counted, postbacks
from turnout.reports.ab import Arm, compare_arms
from turnout.reports.dimensions import DIMENSIONS
from turnout.reports.errors import FactsMissing, ParameterError, ReportError
from turnout.reports.metrics import METRICS
from turnout.reports.query import Query
from turnout.reports.run import ReportResult, execute, run_report
from turnout.reports.spec import ReportSpec, build_spec, split_list, truthy
from turnout.reports.timeline import fill
from turnout.reports.workspaces import FactsCache, GraphFacts

log = logging.getLogger(__name__)
T = TypeVar("T")

_COMMON: Final = frozenset({"workspace", "from", "to", "tz", "statuses", "include_bots",
                            "rollup", "format", "metrics"})
ALLOWED: Final = {
    "report": _COMMON | {"group_by", "sort", "limit", "offset", "totals"},
    "timeline": _COMMON | {"bucket"},
    "leaderboard": _COMMON | {"dimension", "metric", "limit"},
    "ab": (_COMMON - {"format"}) | {"campaign", "rule", "control", "confidence"},
    "not-counted": frozenset({"workspace", "from", "to", "tz", "format"}),
    "held": frozenset({"workspace", "from", "to", "tz", "statuses", "format"}),
    "postbacks": frozenset({"workspace", "from", "to", "tz", "format"}),
}
_NO_FILTERS: Final = frozenset({"ab", "not-counted", "held", "postbacks"})


class FactsSource(Protocol):
    async def get(self) -> GraphFacts: ...


class Denied(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status, self.reason = status, reason


def _error(status: int, reason: str) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse({"error": reason}, status_code=status, headers=headers)


class ReportApi:
    def __init__(self, settings: ApiSettings, client_factory: ClientFactory,
                 facts: FactsSource | None = None) -> None:
        self.settings = settings
        self.pool = ClientPool(client_factory, settings.pool_size)
        self._own_facts: FactsCache | None = None
        if facts is None:
            facts = self._own_facts = FactsCache(settings.redis_url, settings.graph_prefix,
                                                 settings.facts_ttl_s)
        self.facts = facts
        if settings.api_keys:
            # INFO, not WARNING: `turnout dev` still configures its report keys this way.
            log.info("TURNOUT_API_KEYS (deprecated) opens the report routes only; "
                     "control-plane keys come from `turnout key create`")

    async def aclose(self) -> None:
        """Stop the facts follower, if this API started one."""
        if self._own_facts is not None:
            await self._own_facts.aclose()

    def workspace(self, request: Request) -> str:
        workspace = principal_of(request).workspace_id
        asked = request.query_params.get("workspace")
        if asked and asked != workspace:
            raise Denied(403, "this key does not give access to that workspace")
        return workspace

    async def handle(self, name: str, request: Request) -> Response:
        """Run the report endpoint `name` (a key of ALLOWED), its errors as JSON answers."""
        try:
            return await self._endpoints[name](request)
        except Denied as exc:
            return _error(exc.status, exc.reason)
        except ParameterError as exc:
            return _error(400, str(exc))
        except FactsMissing as exc:
            return _error(503, str(exc))
        except ReportError as exc:
            log.error("report failed: %s", exc)
            return _error(503 if exc.retriable else 500, "report store unavailable")

    @property
    def _endpoints(self) -> dict[str, Callable[[Request], Awaitable[Response]]]:
        return {"report": self.report, "timeline": self.timeline,
                "leaderboard": self.leaderboard, "ab": self.ab,
                "not-counted": self.not_counted, "held": self.held,
                "postbacks": self.postbacks}

    async def with_client(self, work: Callable[[Client], T]) -> T:
        """`work(client)` in a worker thread on a pooled ClickHouse client."""
        def run() -> T:
            with self.pool.client() as client:
                return work(client)

        return await anyio.to_thread.run_sync(run)

    async def query(self, spec: ReportSpec) -> ReportResult:
        return await self.with_client(lambda client: run_report(client, spec))

    async def run(self, query: Query) -> ReportResult:
        return await self.with_client(lambda client: execute(client, query))

    async def spec(self, request: Request, endpoint: str, workspace: str,
                   **fixed: Any) -> tuple[ReportSpec, GraphFacts]:
        params = request.query_params
        unknown = sorted(k for k in params if k not in ALLOWED[endpoint]
                         and not (k.startswith("f.") and endpoint not in _NO_FILTERS))
        if unknown:
            raise ParameterError(f"unknown parameter(s): {', '.join(unknown)}")
        facts = await self.facts.get()
        known = facts.workspace(workspace)
        filters = {k[2:]: params.getlist(k) for k in params if k.startswith("f.")}
        filters.update(fixed.pop("filters", {}))
        rollup = params.get("rollup", "none")
        if rollup not in ("none", "parent"):
            raise ParameterError("rollup: none or parent")
        args: dict[str, Any] = dict(
            workspace=workspace, metrics=params.getlist("metrics") or None, filters=filters,
            start=params.get("from"), end=params.get("to"),
            tz=params.get("tz") or known.timezone, currency=known.currency,
            statuses=params.getlist("statuses") or None,
            include_bots=truthy(params.get("include_bots"), "include_bots"),
            rollup=rollup == "parent")
        if endpoint == "report":
            args.update(group_by=params.getlist("group_by") or None,
                        sort=params.getlist("sort") or None, limit=params.get("limit"),
                        offset=params.get("offset"))
        args.update(fixed)
        return build_spec(**args), facts

    async def held_meta(self, spec: ReportSpec) -> dict[str, Any]:
        """`held_conversions`: how many of the report's conversions have no rate yet (null
        when the report sums no conversion money)."""
        counting = held.count_spec(spec)
        total = None if counting is None else held.held_total(await self.query(counting))
        return {"held_conversions": total}

    def meta(self, spec: ReportSpec, facts: GraphFacts) -> dict[str, Any]:
        return {"workspace": spec.workspace, "timezone": spec.tz, "currency": spec.currency,
                "from": spec.start.isoformat() if spec.start else None,
                "to": spec.end.isoformat() if spec.end else None,
                "statuses": list(spec.statuses), "include_bots": spec.include_bots}

    async def render(self, request: Request, result: ReportResult, meta: dict[str, Any],
                     totals: ReportResult | None = None) -> Response:
        form = request.query_params.get("format", "json")
        if form == "csv":  # no meta in CSV: the money's currency and what is held, as headers
            headers = {"X-Turnout-Currency": meta.get("currency") or ""}
            if meta.get("held_conversions") is not None:
                headers["X-Turnout-Held-Conversions"] = str(meta["held_conversions"])
            return Response(fmt.to_csv(result), media_type="text/csv; charset=utf-8",
                            headers=headers)
        if form != "json":
            raise ParameterError("format: json or csv")
        if totals is not None:
            meta = {**meta, "totals": fmt.plain(totals)[0] if totals.rows else None}
        return Response(fmt.to_json(result, meta), media_type="application/json")

    async def report(self, request: Request) -> Response:
        workspace = self.workspace(request)
        spec, facts = await self.spec(request, "report", workspace)
        result = await self.query(spec)
        totals = None
        if truthy(request.query_params.get("totals"), "totals"):
            totals = await self.query(dataclasses.replace(spec, group_by=(), sort=(),
                                                          offset=0))
        meta = {**self.meta(spec, facts), **await self.held_meta(spec),
                "group_by": list(spec.group_by), "limit": spec.limit, "offset": spec.offset}
        return await self.render(request, result, meta, totals)

    async def timeline(self, request: Request) -> Response:
        workspace = self.workspace(request)
        bucket = request.query_params.get("bucket", "date")
        if bucket not in ("date", "hour"):
            raise ParameterError("bucket: date or hour")
        spec, facts = await self.spec(request, "timeline", workspace, group_by=bucket,
                                      sort=bucket, limit=100_000)
        if spec.start is None:
            raise ParameterError("from: a timeline needs a start")
        end = spec.end or _now()
        result = fill(await self.query(spec), bucket, spec.start, end, spec.tz)
        meta = {**self.meta(spec, facts), **await self.held_meta(spec), "bucket": bucket}
        return await self.render(request, result, meta)

    async def leaderboard(self, request: Request) -> Response:
        workspace = self.workspace(request)
        params = request.query_params
        dimension, metric = params.get("dimension", "campaign"), params.get("metric", "clicks")
        if dimension not in DIMENSIONS:
            raise ParameterError(f"dimension: unknown {dimension!r}")
        if metric not in METRICS:
            raise ParameterError(f"metric: unknown {metric!r}")
        metrics = split_list(params.getlist("metrics")) or (metric,)
        spec, facts = await self.spec(request, "leaderboard", workspace, group_by=dimension,
                                      metrics=(metric, *metrics), sort=f"{metric}:desc",
                                      limit=params.get("limit") or 10)
        result = await self.query(spec)
        meta = {**self.meta(spec, facts), **await self.held_meta(spec), "dimension": dimension,
                "metric": metric}
        return await self.render(request, result, meta)

    async def ab(self, request: Request) -> Response:
        workspace = self.workspace(request)
        params = request.query_params
        campaign, rule = params.get("campaign"), params.get("rule")
        if not campaign or not rule:
            raise ParameterError("campaign and rule: both required")
        if "metrics" in params:
            raise ParameterError("metrics: not used by /ab")
        try:
            confidence = float(params.get("confidence", "0.95"))
        except ValueError:
            raise ParameterError("confidence: expected a number like 0.95") from None
        spec, facts = await self.spec(
            request, "ab", workspace, group_by="destination",
            metrics=("clicks", "conversions"), sort="clicks:desc", limit=1000,
            filters={"campaign": [campaign], "rule": [rule]})
        result = await self.query(spec)
        arms = [Arm(r["destination"], r["clicks"], r["conversions"])
                for r in result.records() if r["clicks"] > 0]
        body = compare_arms(arms, params.get("control", "first"), confidence,
                            facts.rules.get((campaign, rule), ()))
        return JSONResponse({**self.meta(spec, facts), "campaign": campaign, "rule": rule,
                             **body})

    async def not_counted(self, request: Request) -> Response:
        workspace = self.workspace(request)
        spec, facts = await self.spec(request, "not-counted", workspace)
        result = await self.run(not_counted.build_query(spec))
        return await self.render(request, result, self.meta(spec, facts))

    async def held(self, request: Request) -> Response:
        workspace = self.workspace(request)
        spec, facts = await self.spec(request, "held", workspace)
        result = await self.run(held.build_query(spec))
        return await self.render(request, result, self.meta(spec, facts))

    async def postbacks(self, request: Request) -> Response:
        workspace = self.workspace(request)
        spec, facts = await self.spec(request, "postbacks", workspace)
        result = await self.run(postbacks.build_query(spec))
        return await self.render(request, result, self.meta(spec, facts))


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def create_app(settings: ApiSettings, client_factory: ClientFactory,
               facts: FactsSource | None = None,
               limiter: RateLimiter | None = None) -> Starlette:
    """The API app; close it with `close_app`. `limiter`: the rate limiter to use instead of
    one on settings.redis_url."""
    api = ReportApi(settings, client_factory, facts)
    admin = AdminState(settings, limiter)
    table = admin_routes.table()
    document = orjson.dumps(merge_admin(openapi_document(), table))

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def openapi(request: Request) -> Response:
        return Response(document, media_type="application/json")

    routes = [
        Route("/healthz", healthz),
        Route("/openapi.json", openapi),
        *admin_routes.starlette_routes(table),
    ]
    auth = Middleware(AdminAuth, admin=admin, legacy=KeyRing(settings.api_keys),
                      legacy_paths=report_routes.PATHS)
    app = Starlette(routes=routes, middleware=[auth])
    app.router.redirect_slashes = False  # they are built from the (spoofable) Host header
    problems.install(app)
    app.state.api = api
    app.state.admin = admin
    # What a wrapper around the app (the dashboard) must close with it, newest first.
    app.state.closers = []
    app.state.graph_redis = redis = aioredis.from_url(settings.redis_url)
    app.state.publisher = Publisher(admin.connection,
                                    GraphStore(redis, settings.graph_prefix,
                                               settings.graph_retain),
                                    window_s=settings.publish_window_s,
                                    watch_s=settings.publish_watch_s)
    return app


async def start_app(app: Starlette) -> None:
    """Start what serving needs: the publisher (it also puts back a graph Redis lost)."""
    await app.state.publisher.start()


async def close_app(app: Starlette) -> None:
    """Stop what the app started: the publisher (after publishing what is pending), the
    facts follower, key-use writes, pools; then what a wrapper registered in
    app.state.closers."""
    await app.state.publisher.stop()
    await app.state.graph_redis.aclose()
    await app.state.api.aclose()
    await app.state.admin.aclose()
    for closer in reversed(app.state.closers):
        await closer()
