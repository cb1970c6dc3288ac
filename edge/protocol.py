"""The edge's HTTP protocol: uvicorn's httptools protocol, with clicks answered inline.

For a GET or HEAD of a quick path of the route table (edge.routes: /c/{code}, /click,
/click/{n}, /r) the answer is computed when the request is complete, inside the parser
callback: no RequestResponseCycle, no task, no ASGI messages. That is most of uvicorn's per-request
cost, and the click path has nothing to await anyway. The answers are written when the
event loop has read every ready socket (edge.wire.Corked).
Everything else (other paths and methods, upgrades, `Expect: 100-continue`, a request
pipelined behind one still being answered through ASGI) takes uvicorn's own path, so
ordering, keep-alive, timeouts and graceful shutdown keep uvicorn's semantics.

It overrides private hooks of uvicorn's protocol: `UVICORN_HOOKS` lists what it relies
on, checked at import (edge.uvicorn_hooks) against the installed uvicorn.

Use it with `uvicorn.run(..., http="turnout.edge.protocol:EdgeProtocol")`.
"""

from __future__ import annotations

import asyncio
import urllib.parse
from typing import Any, Final

import httptools
from uvicorn.config import Config
from uvicorn.protocols.http.flow_control import FlowControl
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle
from uvicorn.server import ServerState

from turnout.edge.app import EdgeApp
from turnout.edge.quick import QuickRoute
from turnout.edge.uvicorn_hooks import require
from turnout.edge.wire import DefaultHeaders, cork_of, response_bytes
from turnout.slow_clients import ANSWERING, GuardedProtocol

# Everything of uvicorn's that EdgeProtocol overrides, calls or reads: (owner, methods,
# attributes). Checked at import, so another uvicorn fails here and not mid-request.
UVICORN_HOOKS: Final = (
    (HttpToolsProtocol,
     ("on_message_begin", "on_url", "on_header", "on_headers_complete", "on_body",
      "on_message_complete", "on_response_complete", "_unset_keepalive_if_required",
      "timeout_keep_alive_handler", "_start_asgi_task", "connection_lost", "shutdown",
      "resume_writing", "data_received", "connection_made", "send_400_response",
      "handle_websocket_upgrade", "_should_upgrade", "_unsupported_upgrade_warning"),
     ("app", "loop", "parser", "url", "headers", "expect_100_continue", "scope", "pipeline",
      "cycle", "root_path", "client", "server", "scheme", "transport", "flow",
      "server_state", "timeout_keep_alive", "timeout_keep_alive_task", "connections",
      "logger")),
    (RequestResponseCycle, (), ("response_complete", "response_started", "scope", "keep_alive")),
    (FlowControl, ("pause_reading", "resume_reading"), ("read_paused", "write_paused")),
    (ServerState, (), ("default_headers", "total_requests")),
)
require(UVICORN_HOOKS)

_QUICK_METHODS = (b"GET", b"HEAD")
_DEFAULTS = DefaultHeaders()


def find_edge(app: Any) -> EdgeApp | None:
    """The EdgeApp inside whatever middleware uvicorn wrapped around it, if any."""
    for _ in range(8):
        if isinstance(app, EdgeApp):
            return app
        app = getattr(app, "app", None)
    return None


class EdgeProtocol(GuardedProtocol):
    def __init__(self, config: Config, server_state: ServerState, app_state: dict[str, Any],
                 _loop: asyncio.AbstractEventLoop | None = None) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self._edge = edge = find_edge(self.app)
        if edge is not None:  # slow and abusive clients (turnout.slow_clients)
            self.limits, self.stats = edge.settings.client_limits, edge.clients
        self._quick: QuickRoute | None = None  # the route of the request being read
        self._quick_keep_alive = True
        self._reading_paused_by_us = False
        self._cork = cork_of(self.loop)
        self._defaults = _DEFAULTS
        self._idle_since: float | None = None  # when the last answer went out, if idle

    # -- per request -----------------------------------------------------------------------

    def on_message_begin(self) -> None:
        self._begin()
        # The scope is built in on_headers_complete, when it is known which kind it needs.
        self.url = b""
        self.expect_100_continue = False
        self.headers = []

    def _asgi_scope(self) -> None:
        """uvicorn's full scope, around what was read already."""
        url, headers, expect = self.url, self.headers, self.expect_100_continue
        super().on_message_begin()
        self.url, self.expect_100_continue = url, expect
        self.scope["headers"] = self.headers = headers

    def on_headers_complete(self) -> None:
        self._head_read()
        parser = self.parser
        method = parser.get_method()
        route = self._quick_route(method)
        if route is None:
            self._asgi_scope()
            super().on_headers_complete()
            if method == b"CONNECT" and self.cycle is not None:
                # The parser stops at a CONNECT (it would be a tunnel): nothing more is read
                # on this connection, so it closes after the refusal instead of idling until
                # the keep-alive timeout despite the client's `Connection: close`.
                self.cycle.keep_alive = False
            return
        http_version = parser.get_http_version()
        self.scope["method"] = "GET" if method == b"GET" else "HEAD"
        self.scope["http_version"] = http_version
        self._quick = route
        self._quick_keep_alive = http_version != "1.0" and parser.should_keep_alive()

    def _quick_route(self, method: bytes) -> QuickRoute | None:
        edge = self._edge
        if edge is None or self.pipeline or self.expect_100_continue:
            return None
        cycle = self.cycle
        if cycle is not None and not cycle.response_complete:
            return None  # answering now would overtake the response still being written
        if method not in _QUICK_METHODS or self.parser.should_upgrade():
            return None
        url = self.url
        # Origin form, as browsers send it. 35 is "#": an int in bytes is a memchr, where
        # bytes in bytes first fails to read its operand as an int (an exception per click).
        if url[:1] == b"/" and 35 not in url:
            raw_path, _, query = url.partition(b"?")
        else:
            parsed = httptools.parse_url(url)
            raw_path, query = parsed.path, parsed.query or b""
        path = raw_path.decode("ascii")
        if "%" in path:
            path = urllib.parse.unquote(path)
        route = edge.quick_route(path)
        if route is not None:
            # What quick routes read; they never see uvicorn's lifespan state or ASGI keys.
            self.scope = {  # type: ignore[assignment,typeddict-item]
                "type": "http", "path": self.root_path + path, "headers": self.headers,
                "raw_path": self.root_path.encode("ascii") + raw_path,
                "query_string": query, "client": self.client,
                "server": self.server, "scheme": self.scheme,
            }
        return route

    def on_body(self, body: bytes) -> None:
        if self._quick is None:
            super().on_body(body)
        # A body sent with a click GET is read and dropped: nothing there is used.

    def on_message_complete(self) -> None:
        self._phase = ANSWERING
        route = self._quick
        if route is None:
            super().on_message_complete()
            return
        self._quick = None
        scope = self.scope
        status, headers, body = route.respond(scope)
        keep_alive = self._quick_keep_alive
        if scope["method"] == "HEAD":
            body = b""
        data = response_bytes(status, self._defaults(self.server_state.default_headers),
                              headers, body, not keep_alive)
        self._cork.write(self, data, not keep_alive)
        self.on_response_complete()  # counts it, arms the keep-alive timeout

    def written(self, data: bytes, close: bool) -> None:
        transport = self.transport
        if transport.is_closing():
            return  # the client went away before its answer was due
        transport.write(data)
        if close:
            transport.close()
        elif self.flow.write_paused and not self.flow.read_paused:
            # The client is not reading its answers: stop reading its requests until it does.
            self.flow.pause_reading()
            self._reading_paused_by_us = True

    # -- keep-alive: one timer per idle stretch, not one per request -------------------

    def _unset_keepalive_if_required(self) -> None:
        self._idle_since = None  # data arrived: busy until the next answer goes out

    def on_response_complete(self) -> None:
        # uvicorn's, except that the keep-alive timer is not re-armed for every answer: it
        # is armed once and, when it fires, closes the connection only if it has been idle
        # for the whole timeout, or re-arms itself for the rest.
        self.server_state.total_requests += 1
        if self.transport.is_closing():
            return
        self.flow.resume_reading()
        if self.pipeline:
            cycle, app = self.pipeline.pop()
            self._start_asgi_task(cycle, app)
            return
        self._idle_since = self.loop.time()
        if self.timeout_keep_alive_task is None:
            self.timeout_keep_alive_task = self.loop.call_later(
                self.timeout_keep_alive, self.timeout_keep_alive_handler)

    def timeout_keep_alive_handler(self) -> None:
        self.timeout_keep_alive_task = None
        if self.transport.is_closing():
            return
        idle_since = self._idle_since
        if idle_since is None:  # a request is being read or answered
            delay = self.timeout_keep_alive
        else:
            delay = idle_since + self.timeout_keep_alive - self.loop.time()
            if delay <= 0:
                self.transport.close()
                return
        self.timeout_keep_alive_task = self.loop.call_later(
            delay, self.timeout_keep_alive_handler)

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        if self.timeout_keep_alive_task is not None:
            self.timeout_keep_alive_task.cancel()
            self.timeout_keep_alive_task = None

    def shutdown(self) -> None:
        self._cork.flush()  # answers already computed go out before the connection closes
        super().shutdown()

    def resume_writing(self) -> None:
        super().resume_writing()
        if self._reading_paused_by_us:
            self._reading_paused_by_us = False
            self.flow.resume_reading()
