"""Quick routes: the click paths, answered by one synchronous call.

A quick route turns a request scope into (status, headers, body) without awaiting
anything: the graph is an attribute read, the event a put into the sink's buffer. The
same object serves the ASGI path (`serve`, used by EdgeApp for in-process tests and any
server) and the edge's own HTTP protocol (`respond`, edge.protocol), which writes the
answer straight to the socket without an ASGI request cycle.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from starlette.types import Scope, Send

from turnout.edge import responses
from turnout.edge.metrics import Histogram, RouteStats
from turnout.edge.refusals import guarded
from turnout.edge.responses import Answer

Compute = Callable[[Scope, bool], Answer]


class QuickRoute:
    __slots__ = ("_allow", "_compute", "_latency", "_methods", "_stats", "_what")

    def __init__(self, compute: Compute, stats: RouteStats, what: str,
                 methods: tuple[str, ...], latency: Histogram | None = None) -> None:
        self._compute = compute
        self._stats = stats
        self._latency = latency
        self._what = what
        self._methods = methods
        self._allow = ", ".join(methods).encode()

    @property
    def methods(self) -> tuple[str, ...]:
        return self._methods

    def respond(self, scope: Scope) -> Answer:
        """The answer for one of its methods (405 otherwise), counted by status; never
        raises for bad input (its 4xx) or a bug (a logged 500)."""
        started = time.perf_counter_ns()
        method = scope["method"]
        if method in self._methods:
            answer = guarded(self._compute, scope, method == "HEAD", self._what)
        else:
            answer = responses.plain(405, "method not allowed", [(b"allow", self._allow)])
        self._stats.count(answer[0])
        if self._latency is not None:
            self._latency.observe_ns(time.perf_counter_ns() - started)
        return answer

    async def serve(self, scope: Scope, send: Send) -> None:
        status, headers, body = self.respond(scope)
        await responses.send(send, status, headers, body, scope["method"] == "HEAD")
