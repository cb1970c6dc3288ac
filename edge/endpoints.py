"""The Starlette endpoints of the edge: postbacks, pixel, events API, health and metrics.

These are not the redirect hot path, so they use Starlette's Request and Response. Bad
input raises BadInput, which the route's refusal answers (edge.refusals); edge.routes
counts every answer by status.
"""

from __future__ import annotations

import base64
import logging
import time
from collections.abc import Callable
from typing import Any, Final

import msgspec
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from turnout import clickid
from turnout.edge import onsite, postback
from turnout.edge.errors import BadInput
from turnout.edge.inputs import cookie, parse_query
from turnout.edge.observe import VISITOR_COOKIE, valid_visitor_id
from turnout.edge.runtime import Runtime
from turnout.events import TOPIC_CONVERSIONS, TOPIC_EVENTS, Conversion

log = logging.getLogger(__name__)

GIF: Final = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
_NO_STORE: Final = {"cache-control": "no-store"}


class Disconnects:
    """Requests whose client went away before its body arrived (counted, logged at debug:
    anyone can make many, so each is no traceback at ERROR)."""

    total = 0


async def read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        raise BadInput(413, "request body too large")
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise BadInput(413, "request body too large")
            chunks.append(chunk)
    except ClientDisconnect:
        Disconnects.total += 1
        log.debug("client disconnected before its request body arrived (%s)", request.url.path)
        raise BadInput(400, "the client disconnected before its body arrived") from None
    return b"".join(chunks)


async def request_params(request: Request, rt: Runtime) -> dict[str, str]:
    """Query parameters, plus a form or JSON object body for POST (the body wins)."""
    settings = rt.settings
    if len(request.scope.get("raw_path", b"")) > settings.max_url_bytes:
        raise BadInput(414, "URL too long")
    params = parse_query(request.scope["query_string"], settings.max_url_bytes)
    if request.method == "POST":
        body = await read_body(request, settings.max_body_bytes)
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind == "application/json":
            try:
                data = msgspec.json.decode(body, type=dict[str, str | int | float])
            except msgspec.DecodeError:
                raise BadInput(400, "body must be a JSON object of strings and numbers") from None
            params.update({name: str(value) for name, value in data.items()})
        elif body:
            params.update(parse_query(body, settings.max_body_bytes))
    return params


class Endpoints:
    def __init__(self, runtime: Runtime, sink_ready: Callable[[], bool] | None = None) -> None:
        self.rt = runtime
        self._sink_ready = sink_ready or (lambda: True)

    async def postback(self, request: Request) -> Response:
        rt = self.rt
        now_ms = time.time_ns() // 1_000_000
        snapshot = rt.holder.snapshot
        if snapshot is None:
            # Not bad input: the network should retry, and will on a 5xx.
            return JSONResponse(
                {"status": "unavailable", "reason": "no campaign graph loaded yet"}, 503)
        params = await request_params(request, rt)
        event = postback.conversion(
            params, snapshot, rt.observer.client(request.scope), now_ms,
            rt.ids.new(now_ms), rt.settings.max_attribution_ms, rt.settings.future_skew_ms,
        )
        rt.sink.emit(TOPIC_CONVERSIONS, event.click_id, event)
        return JSONResponse({"status": "accepted", "conversion_id": event.conversion_id},
                            headers=_NO_STORE)

    async def pixel(self, request: Request) -> Response:
        if self.rt.holder.snapshot is None:
            return PlainTextResponse("no campaign graph loaded yet", 503, headers=_NO_STORE)
        params = await request_params(request, self.rt)
        self._record(params, request, "pixel")
        return Response(GIF, media_type="image/gif", headers=_NO_STORE)

    async def events(self, request: Request) -> Response:
        if self.rt.holder.snapshot is None:
            return JSONResponse(
                {"status": "unavailable", "reason": "no campaign graph loaded yet"}, 503)
        body = await read_body(request, self.rt.settings.max_body_bytes)
        try:
            data = msgspec.json.decode(body, type=dict[str, Any])
        except msgspec.DecodeError:
            raise BadInput(400, "body must be a JSON object") from None
        params = {n: str(v) for n, v in data.items() if isinstance(v, str | int | float)}
        extra = data.get("params")
        if extra is not None and not isinstance(extra, dict):
            raise BadInput(400, "params must be an object")
        identifier = self._record(params, request, "api", extra or {})
        return JSONResponse({"status": "accepted", "id": identifier}, 202, headers=_NO_STORE)

    def _record(self, params: dict[str, str], request: Request, source: str,
                extra: dict[str, Any] | None = None) -> str:
        """Emit the Event or (visitor-based) Conversion that `params` describe; its id."""
        rt = self.rt
        now_ms = time.time_ns() // 1_000_000
        snapshot = rt.holder.snapshot
        assert snapshot is not None  # the endpoints answer 503 without one
        headers = request.headers
        caller = onsite.caller_of(
            params, onsite.request_origin(headers.get("origin", ""), headers.get("referer", "")),
            snapshot, rt.observer.client(request.scope), server_allowed=source == "api")
        click = params.get("click_id") or params.get("cid") or ""
        if click:
            try:
                click = clickid.normalize(click)
            except clickid.ClickIdError:
                raise BadInput(400, "malformed click id") from None
        visitor = params.get("visitor_id") or cookie(headers.get("cookie", ""), VISITOR_COOKIE)
        visitor = visitor.upper() if visitor and valid_visitor_id(visitor) else ""
        if not click and not visitor:
            raise BadInput(400, "a click id, a visitor_id or the tv cookie is required")
        identifier = rt.ids.new(now_ms)
        item = onsite.message(params, caller, snapshot, click=click, visitor=visitor,
                              identifier=identifier, now_ms=now_ms, source=source,
                              extra=extra or {})
        topic = TOPIC_CONVERSIONS if isinstance(item, Conversion) else TOPIC_EVENTS
        rt.sink.emit(topic, click or visitor, item)
        return identifier

    async def healthz(self, request: Request) -> Response:
        return PlainTextResponse("ok", headers=_NO_STORE)

    async def readyz(self, request: Request) -> Response:
        snapshot = self.rt.holder.snapshot
        if snapshot is None:
            return PlainTextResponse("no campaign graph loaded", 503, headers=_NO_STORE)
        if not self._sink_ready():
            return PlainTextResponse("event sink not running", 503, headers=_NO_STORE)
        return PlainTextResponse(f"ready: graph version {snapshot.version}", headers=_NO_STORE)

    async def metrics(self, request: Request) -> Response:
        return PlainTextResponse(self.rt.metrics.render(), headers=_NO_STORE,
                                 media_type="text/plain; version=0.0.4")
