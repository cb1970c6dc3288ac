"""Sign in with an API key (a server-side session; the key never reaches the browser
again) and sign out (the session is deleted)."""

from __future__ import annotations

import hmac
import secrets
from typing import Final

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from turnout.dashboard.sessions import COOKIE
from turnout.dashboard.web import ROOT, Refused, dashboard_of, posted, read_form, redirect

# The sign-in form has no session yet: its CSRF token is a cookie it must echo.
SIGN_IN_COOKIE: Final = "turnout_sign_in"


async def _form(request: Request, status: int = 200, error: str = "") -> Response:
    token = secrets.token_urlsafe(32)
    page = dashboard_of(request).templates.get_template("sign_in.html")
    html = page.render(csrf=token, error=error, session=None,
                                   path=request.url.path)
    response = HTMLResponse(html, status_code=status, headers={"Cache-Control": "no-store"})
    response.set_cookie(SIGN_IN_COOKIE, token, max_age=3600, path=f"{ROOT}/sign-in",
                        httponly=True, samesite="strict",
                        secure=dashboard_of(request).settings.cookie_secure)
    return response


async def sign_in_page(request: Request) -> Response:
    return await _form(request)


async def sign_in(request: Request) -> Response:
    form = await read_form(request)
    sent, expected = form.get("csrf"), request.cookies.get(SIGN_IN_COOKIE)
    if not (isinstance(sent, str) and expected
            and hmac.compare_digest(sent.encode(), expected.encode())):
        return await _form(request, 403, "The form expired: sign in again.")
    key = form.get("key")
    key = key.strip() if isinstance(key, str) else ""
    if not key:
        return await _form(request, 422, "Paste an API key.")
    dashboard = dashboard_of(request)
    answer = await dashboard.api.call(key, "GET", "/api/v1/whoami")
    if answer.status in (401, 403):
        return await _form(request, 401, f"That key was refused: {answer.detail}")
    if not answer.ok:
        return await _form(request, 503, f"The API could not check the key: {answer.detail}")
    # A new id on every sign-in (no session fixation); an old session is deleted.
    await dashboard.sessions.delete(request.cookies.get(COOKIE))
    me = answer.body
    session_id = await dashboard.sessions.create(token=key, key_id=me["key_id"],
                                                 workspace=me["workspace"], role=me["role"])
    response = redirect("/campaigns")
    # A browser-session cookie: the server's TTL, pushed back on every request, decides
    # when the session ends.
    response.set_cookie(COOKIE, session_id, path=ROOT, httponly=True, samesite="lax",
                        secure=dashboard.settings.cookie_secure)
    response.delete_cookie(SIGN_IN_COOKIE, path=f"{ROOT}/sign-in")
    return response


async def sign_out(request: Request) -> Response:
    try:
        current, _ = await posted(request, "viewer")
    except Refused as exc:
        if exc.status == 401:
            return redirect("/sign-in")
        raise
    await current.dashboard.sessions.delete(current.session_id)
    response = redirect("/sign-in")
    response.delete_cookie(COOKIE, path=ROOT)
    return response


ROUTES = [
    Route("/sign-in", sign_in_page, methods=["GET"]),
    Route("/sign-in", sign_in, methods=["POST"]),
    Route("/sign-out", sign_out, methods=["POST"]),
]
