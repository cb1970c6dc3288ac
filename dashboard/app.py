"""`with_dashboard(api_app)`: the API app with the dashboard at /ui beside it (and `/`
redirecting there). The CLI composes the two (`turnout api`, `turnout ingest --api`);
api/ does not import the dashboard."""

from __future__ import annotations

import itertools
from typing import Final

import redis.asyncio as aioredis
from starlette.applications import Starlette
from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from turnout.dashboard import (
    views_auth,
    views_automation,
    views_campaigns,
    views_editor,
    views_entities,
    views_entity_editor,
    views_money,
    views_reports,
    views_setup,
    views_status,
    views_versions,
    views_webhooks,
)
from turnout.dashboard.client import ApiClient
from turnout.dashboard.sessions import SessionStore
from turnout.dashboard.settings import DashboardSettings
from turnout.dashboard.web import ROOT, STATIC, Dashboard, Refused, dashboard_of

# No inline script or style anywhere: every script and style sheet is a static file.
CSP: Final = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
              "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
              "frame-ancestors 'none'")
HEADERS: Final = ((b"content-security-policy", CSP.encode()),
                  (b"x-content-type-options", b"nosniff"),
                  (b"x-frame-options", b"DENY"),
                  (b"referrer-policy", b"same-origin"))
VIEW_MODULES: Final = (views_auth, views_campaigns, views_editor, views_setup, views_reports,
                       views_entities, views_entity_editor, views_money, views_versions,
                       views_status, views_automation, views_webhooks)


class SecurityHeaders:
    """CSP and its companions on every dashboard answer."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in HEADERS:
                    headers[name.decode()] = value.decode()
            await send(message)

        await self.app(scope, receive, sending)


async def _refused(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Refused)
    if exc.status == 401:
        return RedirectResponse(f"{ROOT}/sign-in", status_code=303)
    page = dashboard_of(request).templates.get_template("error.html")
    html = page.render(status=exc.status, message=exc.message, session=None,
                                   path=request.url.path)
    return HTMLResponse(html, status_code=exc.status, headers={"Cache-Control": "no-store"})


def dashboard_app(api_app: ASGIApp, sessions: SessionStore, settings: DashboardSettings,
                  graph_prefix: str, fx_writers: tuple[str, ...] = ()) -> Starlette:
    """The /ui app alone (the views call `api_app` in process)."""
    routes: list[BaseRoute] = [
        *itertools.chain.from_iterable(m.ROUTES for m in VIEW_MODULES),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    app = Starlette(routes=routes, exception_handlers={Refused: _refused})
    app.state.dashboard = Dashboard.build(settings, sessions, ApiClient(api_app),
                                          graph_prefix, fx_writers)
    return app


def with_dashboard(api_app: Starlette, settings: DashboardSettings | None = None) -> Starlette:
    """The API app with the dashboard at /ui; closed with the API app (its closers)."""
    settings = settings or DashboardSettings.from_env()
    api_settings = api_app.state.api.settings
    redis = aioredis.from_url(api_settings.redis_url)
    sessions = SessionStore(redis, settings.session_prefix, settings.session_ttl_s)
    ui = dashboard_app(api_app, sessions, settings, api_settings.graph_prefix,
                       api_settings.fx_writers)

    async def close() -> None:
        await ui.state.dashboard.api.aclose()
        await redis.aclose()

    api_app.state.closers.append(close)

    async def home(request: Request) -> Response:
        return RedirectResponse(f"{ROOT}/campaigns", status_code=307)

    async def root(request: Request) -> Response:
        return RedirectResponse(ROOT, status_code=307)

    return Starlette(routes=[
        Route("/", root),
        Route(ROOT, home),
        Mount(ROOT, SecurityHeaders(ui)),
        Mount("", api_app),
    ])
