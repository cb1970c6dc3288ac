"""What every view needs: the signed-in session, role and CSRF checks, rendering, flash
messages, and the API called as the signed-in key."""

from __future__ import annotations

import urllib.parse
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import redis.asyncio as aioredis
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from turnout.dashboard import filters
from turnout.dashboard.client import Answer, ApiClient, Params
from turnout.dashboard.sessions import COOKIE, Session, SessionStore
from turnout.dashboard.settings import DashboardSettings
from turnout.roles import rank

ROOT: Final = "/ui"
TEMPLATES: Final = Path(__file__).parent / "templates"
STATIC: Final = Path(__file__).parent / "static"
MAX_FORM_FIELDS: Final = 2000
MAX_FORM_BYTES: Final = 1 << 20
# The pages of the navigation: (path under /ui, label, the least role that may open it).
NAVIGATION: Final = (
    ("/campaigns", "Campaigns", "viewer"), ("/reports", "Reports", "viewer"),
    ("/leaderboard", "Leaderboard", "viewer"), ("/ab", "A/B", "viewer"),
    ("/offers", "Offers", "viewer"), ("/landers", "Landers", "viewer"),
    ("/funnels", "Funnels", "viewer"), ("/traffic-sources", "Sources", "viewer"),
    ("/networks", "Networks", "viewer"), ("/money", "Money", "viewer"),
    ("/status", "Budgets & caps", "viewer"), ("/automation", "Automation", "viewer"),
    ("/webhooks", "Webhooks", "admin"), ("/versions", "Versions", "viewer"),
    ("/audit", "Audit log", "viewer"),
)


class Refused(Exception):
    """A request the dashboard itself answers with an error page (or the sign-in page)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


@dataclass(slots=True)
class Dashboard:
    """The dashboard's shared state, at `app.state.dashboard`."""

    settings: DashboardSettings
    sessions: SessionStore
    api: ApiClient
    templates: Environment
    redis: aioredis.Redis
    """The graph's Redis: sessions, and the meters and overlay the status page reads."""
    graph_prefix: str
    fx_writers: tuple[str, ...] = ()
    """The workspaces whose owner keys may import exchange rates (the API's
    TURNOUT_FX_WRITERS): the FX import form is shown to those keys only."""

    @classmethod
    def build(cls, settings: DashboardSettings, sessions: SessionStore, api: ApiClient,
              graph_prefix: str, fx_writers: tuple[str, ...] = ()) -> Dashboard:
        return cls(settings, sessions, api, templates(), sessions.redis, graph_prefix,
                   fx_writers)


def templates() -> Environment:
    """The pages' Jinja environment: every value escaped unless a template says not."""
    environment = Environment(loader=FileSystemLoader(TEMPLATES),
                              autoescape=select_autoescape(default=True),
                              trim_blocks=True, lstrip_blocks=True)
    filters.install(environment)
    environment.globals.update(root=ROOT, navigation=NAVIGATION)
    return environment


def dashboard_of(request: Request) -> Dashboard:
    found: Dashboard = request.app.state.dashboard
    return found


@dataclass(frozen=True, slots=True)
class Visit:
    """A signed-in request: the session, and the API as its key."""

    request: Request
    session: Session
    session_id: str

    @property
    def dashboard(self) -> Dashboard:
        return dashboard_of(self.request)

    def can(self, role: str) -> bool:
        return rank(self.session.role) >= rank(role)

    def require(self, role: str) -> None:
        """403 unless the key's role is `role` or higher (checked here too, not only by the
        API, so a viewer never reaches a write form or its action)."""
        if not self.can(role):
            raise Refused(403, f"this needs an {role} key or higher; you are signed in "
                               f"with a {self.session.role} key")

    async def api(self, method: str, path: str, *, params: Params | None = None,
                  body: Any = None, revision: int | None = None,
                  raw: tuple[str, bytes] | None = None) -> Answer:
        return await self.dashboard.api.call(self.session.token, method, path, params=params,
                                             body=body, revision=revision, raw=raw)

    async def get(self, path: str, params: Params | None = None) -> Any:
        """A read that must succeed: its JSON, or an error page with the API's reason."""
        answer = await self.api("GET", path, params=params)
        if not answer.ok:
            raise Refused(answer.status, answer.detail)
        return answer.body

    async def flash(self, message: str, kind: str = "ok") -> None:
        await self.dashboard.sessions.flash(self.session_id, message, kind)

    async def render(self, page_name: str, status: int = 200, **context: Any) -> Response:
        notices = await self.dashboard.sessions.take_flashes(self.session_id)
        page = self.dashboard.templates.get_template(page_name)
        html = page.render(
            session=self.session, can=self.can, csrf=self.session.csrf, notices=notices,
            path=self.request.url.path, **context)
        return HTMLResponse(html, status_code=status, headers={"Cache-Control": "no-store"})


async def visit(request: Request) -> Visit:
    """The signed-in visit, or Refused(401) (the sign-in page)."""
    session_id = request.cookies.get(COOKIE)
    session = await dashboard_of(request).sessions.get(session_id)
    if session is None or session_id is None:
        raise Refused(401, "sign in")
    return Visit(request, session, session_id)


async def read_form(request: Request) -> FormData:
    """A urlencoded form (every form here is one; no uploads), at most MAX_FORM_BYTES."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        raise Refused(415, "send the form as application/x-www-form-urlencoded")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise Refused(413, "the form is too large")
    try:
        pairs = urllib.parse.parse_qsl(body.decode(), keep_blank_values=True,
                                       max_num_fields=MAX_FORM_FIELDS)
    except (UnicodeDecodeError, ValueError):
        raise Refused(400, "the form could not be read") from None
    return FormData(pairs)


async def posted(request: Request, role: str) -> tuple[Visit, FormData]:
    """A signed-in POST of a `role` key or higher whose CSRF token is the session's."""
    current = await visit(request)
    form = await read_form(request)
    token = form.get("csrf")
    if not current.session.csrf_ok(token if isinstance(token, str) else None):
        raise Refused(403, "this form is out of date or was not sent by this dashboard; "
                           "reload the page and try again")
    current.require(role)
    return current, form


def text_fields(form: FormData) -> list[tuple[str, str]]:
    return [(k, v) for k, v in form.multi_items() if isinstance(v, str)]


def redirect(path: str) -> Response:
    return RedirectResponse(ROOT + path, status_code=303)


Handler = Callable[[Request], Awaitable[Response]]


def page(handler: Callable[[Visit], Awaitable[Response]]) -> Handler:
    """A GET view of a signed-in visit."""

    async def endpoint(request: Request) -> Response:
        return await handler(await visit(request))

    endpoint.__name__ = handler.__name__
    return endpoint


def action(role: str) -> Callable[[Callable[[Visit, FormData], Awaitable[Response]]], Handler]:
    """A POST view: signed in, CSRF checked, role checked, then the handler."""

    def wrap(handler: Callable[[Visit, FormData], Awaitable[Response]]) -> Handler:
        async def endpoint(request: Request) -> Response:
            current, form = await posted(request, role)
            return await handler(current, form)

        endpoint.__name__ = handler.__name__
        return endpoint

    return wrap


def query_pairs(params: Mapping[str, Any] | Any) -> list[tuple[str, str]]:
    """A request's query as (name, value) pairs, blank values left out."""
    return [(k, v) for k, v in params.multi_items() if v != ""]
