"""Quick routes: the click paths, answered by one synchronous call.

A quick route turns a request scope into (status, headers, body) without awaiting
anything: the graph is an attribute read, the event a put into the sink's buffer. The
same object serves the ASGI path (`serve`, used by EdgeApp for in-process tests and any
server) and the edge's own HTTP protocol (`respond`, edge.protocol), which writes the
answer straight to the socket without an ASGI request cycle.
"""

from __future__ import annotations

import time
from collections.abc import Callable, MutableMapping
from typing import Any

from turnout.edge import responses
from turnout.edge.metrics import Histogram, RouteStats
from turnout.edge.responses import Answer, Send

Scope = MutableMapping[str, Any]
Compute = Callable[[Scope, bool], Answer]


class QuickRoute:
    __slots__ = ("_compute", "_latency", "_stats", "_what")

    def __init__(self, compute: Compute, stats: RouteStats, what: str,
                 latency: Histogram | None = None) -> None:
        self._compute = compute
        self._stats = stats
        self._latency = latency
        self._what = what

    def respond(self, scope: Scope) -> Answer:
        """The answer to a GET or HEAD (405 otherwise), counted by status; never raises
        for bad input (its 4xx) or a bug (a logged 500)."""
        started = time.perf_counter_ns()
        answer = responses.guarded(self._compute, scope, self._what)
        self._stats.count(answer[0])
        if self._latency is not None:
            self._latency.observe_ns(time.perf_counter_ns() - started)
        return answer

    async def serve(self, scope: Scope, send: Send) -> None:
        status, headers, body = self.respond(scope)
        await responses.send(send, status, headers, body, scope["method"] == "HEAD")
