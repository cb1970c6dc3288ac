"""The views' pure parts: report parameters, timeline buckets, security headers, the
pages' escaping, sessions' CSRF comparison."""

from __future__ import annotations

import datetime as dt

import httpx
from starlette.applications import Starlette
from starlette.datastructures import QueryParams
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from turnout.dashboard import views_reports
from turnout.dashboard.app import CSP, SecurityHeaders
from turnout.dashboard.sessions import Session
from turnout.dashboard.web import templates


def test_report_parameters_pass_the_api_ones_and_the_filter_rows():
    params, filters = views_reports._report_params(QueryParams(
        "group_by=campaign&group_by=&from=2026-01-01&sort=profit:desc&fd0=country&fv0=US"
        "&fd1=nope&fv1=x&f.device=mobile&workspace=other&evil=1"))
    assert params == [("group_by", "campaign"), ("from", "2026-01-01"),
                      ("sort", "profit:desc"), ("f.device", "mobile"), ("f.country", "US")]
    assert filters == [("device", "mobile"), ("country", "US")]


def test_short_ranges_are_charted_by_hour():
    today = dt.date(2026, 12, 2)
    assert views_reports._bucket("2026-12-02", "", today) == "hour"
    assert views_reports._bucket("2026-11-30", "2026-12-02", today) == "hour"
    assert views_reports._bucket("2026-11-01", "", today) == "date"
    assert views_reports._bucket("all", "", today) == "date"


async def test_every_answer_carries_the_csp_without_inline_scripts():
    async def hello(request):
        return PlainTextResponse("hi")

    app = SecurityHeaders(Starlette(routes=[Route("/", hello)]))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://t") as client:
        answer = await client.get("/")
    assert answer.headers["content-security-policy"] == CSP
    assert "unsafe-inline" not in CSP and "script-src 'self'" in CSP
    assert answer.headers["x-frame-options"] == "DENY"
    assert answer.headers["x-content-type-options"] == "nosniff"


def test_pages_escape_names_and_keep_unicode():
    page = templates().get_template("error.html").render(
        status=404, message='<script>alert("x")</script> Café ☕', session=None,
        path="/ui/x")
    assert "<script>alert" not in page
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; Café ☕" in page
    assert "<script src=\"/ui/static/app.js\" defer></script>" in page
    assert "<script>" not in page and " on" + "click=" not in page


def test_no_template_has_an_inline_script_style_or_handler():
    import re

    from turnout.dashboard.web import TEMPLATES

    for path in TEMPLATES.glob("*.html"):
        text = path.read_text()
        assert not re.search(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)", text), path
        assert not re.search(r"\son[a-z]+=", text), path
        assert "style=" not in text and "<style" not in text, path


def test_csrf_comparison():
    session = Session(token="t", key_id="k", workspace="w", role="viewer", csrf="abc")
    assert session.csrf_ok("abc")
    assert not session.csrf_ok("abd") and not session.csrf_ok(None) and not session.csrf_ok("")
