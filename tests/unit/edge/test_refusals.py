"""Error answers byte for byte: bad input is a 4xx with its reason (JSON for the API-like
routes, text for the pixel and the click paths), a bug a 500, each counted by route."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.inprocess_edge import ListSink, in_process_edge
from turnout.config.compiled import CompiledGraph
from turnout.edge.app import EdgeApp
from turnout.edge.errors import BadInput
from turnout.events import TOPIC_CLICKS

Answer = tuple[int, list[tuple[bytes, bytes]], bytes]
NO_STORE = (b"cache-control", b"no-store")
SECRET = "beta-postback-secret-02"
PAGE = ((b"referer", b"https://lp.example.com/us"),)  # the example graph's pixel origins
KEYED = b"pixel_key=acme-public-pixel-key-01"
IPHONE = (b"Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
          b"(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1")


async def call(app: EdgeApp, method: str, path: str, query: bytes = b"", body: bytes = b"",
               headers: tuple[tuple[bytes, bytes], ...] = ()) -> Answer:
    """The response `app` sends, as (status, headers as sent, body)."""
    sent: list[dict[str, Any]] = []
    chunks = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive() -> dict[str, Any]:
        return chunks.pop() if chunks else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": method, "scheme": "http", "path": path, "raw_path": path.encode(),
             "query_string": query, "root_path": "", "client": ("127.0.0.1", 40000),
             "server": ("edge.test", 80),
             "headers": [(b"host", b"edge.test"), (b"x-forwarded-for", b"89.160.20.113"),
                         (b"user-agent", IPHONE), *headers]}
    await app(scope, receive, send)
    start, *rest = sent
    assert start["type"] == "http.response.start"
    return start["status"], list(start["headers"]), b"".join(m.get("body", b"") for m in rest)


def json_refusal(status: int, reason: str) -> Answer:
    body = json.dumps({"status": "rejected", "reason": reason}, separators=(",", ":")).encode()
    return status, [NO_STORE, (b"content-length", str(len(body)).encode()),
                    (b"content-type", b"application/json")], body


def text_refusal(status: int, reason: str) -> Answer:
    body = reason.encode()
    return status, [NO_STORE, (b"content-length", str(len(body)).encode()),
                    (b"content-type", b"text/plain; charset=utf-8")], body


def quick_text(status: int, text: str, *first: tuple[bytes, bytes]) -> Answer:
    body = text.encode()
    return status, [*first, (b"content-type", b"text/plain; charset=utf-8"), NO_STORE,
                    (b"content-length", str(len(body)).encode())], body


def starlette_text(status: int, text: str, *first: tuple[bytes, bytes]) -> Answer:
    body = text.encode()
    return status, [*first, (b"content-length", str(len(body)).encode()),
                    (b"content-type", b"text/plain; charset=utf-8")], body


@pytest.fixture
async def edge(compiled: CompiledGraph) -> AsyncIterator[tuple[EdgeApp, ListSink]]:
    async with in_process_edge(compiled, b"unit-secret") as running:
        yield running


async def click_id(app: EdgeApp, sink: ListSink) -> str:
    assert (await call(app, "GET", "/c/CAMP_A"))[0] == 302
    return sink.of(TOPIC_CLICKS)[-1].click_id


async def test_postback_refusals_are_json(edge):
    app, _ = edge
    query = f"clickid=zz&secret={SECRET}".encode()
    assert await call(app, "GET", "/postback", query) == json_refusal(400, "malformed click id")
    assert await call(app, "GET", "/postback") == json_refusal(
        401, "a secret or a network and sig are required")
    assert await call(app, "GET", "/postback", f"secret={SECRET}".encode()) == json_refusal(
        400, "clickid is required")
    assert await call(app, "POST", "/postback", body=b"x" * 100_000, headers=(
        (b"content-type", b"application/x-www-form-urlencoded"),)) == json_refusal(
        413, "request body too large")
    assert await call(app, "POST", "/postback", body=b"[", headers=(
        (b"content-type", b"application/json"),)) == json_refusal(
        400, "body must be a JSON object of strings and numbers")
    assert await call(app, "GET", "/postback", b"a=" + b"x" * 5000) == json_refusal(
        414, "query string too long")


async def test_pixel_refusals_are_text(edge):
    app, _ = edge
    assert await call(app, "GET", "/p.gif", KEYED, headers=PAGE) == text_refusal(
        400, "a click id, a visitor_id or the tv cookie is required")
    assert await call(app, "GET", "/p.gif", KEYED + b"&click_id=zz", headers=PAGE
                      ) == text_refusal(400, "malformed click id")
    assert await call(app, "GET", "/p.gif",
                      KEYED + b"&visitor_id=01M7YPGTFDDG1FQ9XFWXKVP001&value=-1", headers=PAGE
                      ) == text_refusal(400, "value must be a non-negative decimal amount")


async def test_events_refusals_are_json(edge):
    app, _ = edge
    assert await call(app, "POST", "/api/v1/events", body=b"[1,2") == json_refusal(
        400, "body must be a JSON object")
    assert await call(app, "POST", "/api/v1/events", body=b'{"params": 1}') == json_refusal(
        400, "params must be an object")
    assert await call(app, "POST", "/api/v1/events",
                      body=b'{"name": "x", "pixel_key": "acme-public-pixel-key-01"}',
                      headers=((b"origin", b"https://shop.example.com"),)) == json_refusal(
        400, "a click id, a visitor_id or the tv cookie is required")


async def test_refusals_and_answers_are_counted_by_route(edge):
    app, sink = edge
    clicked = await click_id(app, sink)
    await call(app, "GET", "/postback", f"clickid={clicked}&secret={SECRET}".encode())
    await call(app, "GET", "/postback", f"secret={SECRET}".encode())
    await call(app, "GET", "/p.gif", KEYED, headers=PAGE)
    await call(app, "GET", "/p.gif", KEYED + b"&click_id=" + clicked.encode(), headers=PAGE)
    await call(app, "POST", "/api/v1/events", body=b"[")
    await call(app, "GET", "/click/100")
    await call(app, "GET", "/r", b"t=forged")
    metrics = (await call(app, "GET", "/metrics"))[2].decode()
    for route, status in (("c", 302), ("postback", 200), ("postback", 400), ("pixel", 400),
                          ("pixel", 200), ("events", 400), ("click", 404), ("hop", 400)):
        assert f'turnout_edge_requests_total{{route="{route}",status="{status}"}} 1' in metrics


async def test_click_path_refusals_are_text(edge):
    app, _ = edge
    assert await call(app, "GET", "/c/" + "A" * 5000) == quick_text(414, "URL too long")
    assert await call(app, "GET", "/c/CAMP_A", b"a=%zz") == quick_text(
        400, "malformed percent-encoding in the query")
    assert await call(app, "GET", "/click/100") == quick_text(404, "no such CTA")
    assert await call(app, "GET", "/r", b"t=forged") == quick_text(
        400, "invalid or expired link")
    assert await call(app, "GET", "/c/CAMP_A", headers=((b"cookie", b"x" * 20_000),)) == (
        quick_text(431, "request header too large"))


async def test_other_methods_on_click_paths_get_405(edge):
    app, sink = edge
    for path in ("/c/CAMP_A", "/click", "/click/2", "/r"):
        assert await call(app, "POST", path, body=b"a=1") == quick_text(
            405, "method not allowed", (b"allow", b"GET, HEAD"))
    assert sink.events == []


async def test_a_bug_in_a_click_handler_is_a_logged_500_in_the_answer(edge, caplog):
    app, sink = edge

    def broken(topic: str, key: str, struct: Any) -> None:
        raise RuntimeError("sink bug")

    sink.emit = broken  # type: ignore[method-assign]
    with caplog.at_level(logging.ERROR):
        assert await call(app, "GET", "/c/CAMP_A") == quick_text(500, "internal error")
    assert "click handler failed" in caplog.text
    metrics = (await call(app, "GET", "/metrics"))[2].decode()
    assert 'turnout_edge_requests_total{route="c",status="500"} 1' in metrics


async def test_a_bug_in_a_starlette_route_is_starlettes_500(edge):
    app, sink = edge
    clicked = await click_id(app, sink)

    def broken(topic: str, key: str, struct: Any) -> None:
        raise RuntimeError("sink bug")

    sink.emit = broken  # type: ignore[method-assign]
    with pytest.raises(RuntimeError, match="sink bug"):  # re-raised for the server to log
        await call(app, "GET", "/postback", f"clickid={clicked}&secret={SECRET}".encode())


async def test_unknown_paths_and_methods_get_starlettes_answers(edge):
    app, _ = edge
    for path in ("/nope", "/c", "/cx", "/r/x", "/postback/x", "/healthz/"):
        status, headers, body = await call(app, "GET", path)
        # "/healthz/" too: no slash redirect (edge/routes.py)
        assert (status, headers, body) == starlette_text(404, "Not Found"), path
    assert await call(app, "GET", "/api/v1/events") == starlette_text(
        405, "Method Not Allowed", (b"allow", b"POST"))


async def test_before_startup_every_path_is_503(compiled):
    from turnout.edge.settings import EdgeSettings

    app = EdgeApp(EdgeSettings(secret=b"s"), ListSink)
    for path in ("/c/CAMP_A", "/healthz"):
        assert await call(app, "GET", path) == (503, [
            (b"content-type", b"text/plain"), (b"content-length", b"8")], b"starting")


def test_bad_input_is_never_a_5xx():
    assert BadInput(404, "x").status == 404
    for status in (200, 302, 500, 503):
        with pytest.raises(ValueError, match="4xx"):
            BadInput(status, "x")


async def test_a_client_gone_before_its_body_is_counted_not_a_traceback(edge, caplog):
    # Regression (issue #15): each disconnect mid-body logged a ClientDisconnect traceback
    # at ERROR, a log flood any client could trigger.
    from turnout.edge.endpoints import Disconnects

    app, _ = edge
    before = Disconnects.total
    sent: list[dict[str, Any]] = []
    parts = [{"type": "http.disconnect"},
             {"type": "http.request", "body": b"clickid=x", "more_body": True}]

    async def receive() -> dict[str, Any]:
        return parts.pop() if parts else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": "POST", "scheme": "http", "path": "/postback", "raw_path": b"/postback",
             "query_string": b"", "root_path": "", "client": ("127.0.0.1", 40000),
             "server": ("edge.test", 80),
             "headers": [(b"host", b"edge.test"), (b"content-length", b"100"),
                         (b"content-type", b"application/x-www-form-urlencoded")]}
    with caplog.at_level(logging.DEBUG):
        await app(scope, receive, send)
    assert Disconnects.total == before + 1
    assert sent[0]["status"] == 400
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
