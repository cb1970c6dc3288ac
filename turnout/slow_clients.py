"""Slow and abusive clients: read deadlines, a connection cap and a head-size cap for
uvicorn's httptools protocol (the edge's protocol and the API's).

uvicorn closes idle keep-alive connections only: a client that sends nothing, half a head
or half a body holds its connection (and a file descriptor) for as long as it likes. Here:

- a head not complete `header_timeout_s` after the connection opened (first request) or
  after its first byte (later requests) gets 408 and is closed; nothing sent at all: closed;
- a body not complete `body_timeout_s` after its head gets 408 and is closed;
- past `max_connections` open connections in the process, a new one gets 503 with
  Retry-After and is closed; a head larger than `max_head_bytes` gets 431.

Nothing per request but a few attribute stores: no timer and no clock read. Each
connection has one timer ticking every `tick_s` (half the shorter timeout); the parser
callbacks record the phase and count the requests, and a tick that finds the same request
in the same phase as `ceil(timeout / tick_s)` ticks before closes the connection. So a
stalled request is closed between its timeout and its timeout plus half the shorter one
(10 to 15 s for the default head timeout) and a connection never costs more than two
timer callbacks per shorter timeout. While a request is answered or the connection is idle
between requests, uvicorn's keep-alive timeout applies instead.
"""

from __future__ import annotations

import asyncio
import logging
import math
import resource
from asyncio import TimerHandle
from dataclasses import dataclass
from typing import Any, Final

import httptools
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

log = logging.getLogger(__name__)

# A connection's phase: nothing read yet; a head, a body being read; answering or idle.
EMPTY: Final = 0
HEAD: Final = 1
BODY: Final = 2
ANSWERING: Final = 3
REFUSED: Final = 4


@dataclass(frozen=True, slots=True)
class ClientLimits:
    header_timeout_s: float = 10.0
    body_timeout_s: float = 30.0
    max_connections: int = 10_000
    max_head_bytes: int = 65536
    retry_after_s: int = 1

    def __post_init__(self) -> None:
        if min(self.header_timeout_s, self.body_timeout_s) <= 0:
            raise ValueError("read timeouts must be positive")
        if self.max_connections < 1 or self.max_head_bytes < 1024:
            raise ValueError("max_connections must be >= 1 and max_head_bytes >= 1024")

    @property
    def tick_s(self) -> float:
        return min(self.header_timeout_s, self.body_timeout_s) / 2

    def ticks(self, timeout_s: float) -> int:
        """Ticks a request may stay in a phase with this timeout."""
        return max(1, math.ceil(timeout_s / self.tick_s - 1e-9))


# The one place the defaults are written: the edge's and the API's settings take theirs.
CLIENT_DEFAULTS: Final = ClientLimits()


class ClientStats:
    """This process's counts (one protocol class per server, so one per process)."""

    def __init__(self) -> None:
        self.open = 0
        self.refused = 0
        self.head_timeouts = 0
        self.body_timeouts = 0
        self.heads_too_large = 0

    def prometheus(self, prefix: str) -> str:
        return (f"{prefix}_connections {self.open}\n"
                f"{prefix}_connections_refused_total {self.refused}\n"
                f'{prefix}_read_timeouts_total{{phase="head"}} {self.head_timeouts}\n'
                f'{prefix}_read_timeouts_total{{phase="body"}} {self.body_timeouts}\n'
                f"{prefix}_heads_too_large_total {self.heads_too_large}\n")


def refusal(status: int, reason: str, extra: tuple[tuple[str, str], ...] = ()) -> bytes:
    """A complete answer that closes the connection: status line, headers, a short text."""
    body = reason.encode("ascii") + b"\n"
    lines = [f"HTTP/1.1 {status} {reason}", "content-type: text/plain; charset=utf-8",
             f"content-length: {len(body)}", "connection: close",
             *(f"{name}: {value}" for name, value in extra)]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("ascii") + body


TIMEOUT_408: Final = refusal(408, "Request Timeout")
TOO_LARGE_431: Final = refusal(431, "Request Header Fields Too Large")


def open_files_needed(max_connections: int, workers: int = 1, spare: int = 256) -> int:
    """File descriptors a server process needs: every worker's connections, and its own."""
    return max_connections * max(1, workers) + spare


def raise_open_files(needed: int) -> int:
    """Raise this process's soft RLIMIT_NOFILE towards `needed` (as far as the hard limit
    allows; workers inherit it); the soft limit in force after."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        target = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError) as exc:
            log.warning("cannot raise the open files limit to %d (%s)", target, exc)
    if soft != resource.RLIM_INFINITY and soft < needed:
        log.warning("open files limit %d is below the %d the connection cap needs: past it, "
                    "connections are refused by the kernel, not answered 503", soft, needed)
    return soft


class _Refused(Exception):
    """Raised from a parser callback once the connection was answered and closed, so that
    the parser stops calling back for the rest of what was read."""


class GuardedProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with `limits` applied; subclass it (or call
    `guarded_protocol`) to set them."""

    limits: ClientLimits = CLIENT_DEFAULTS
    stats: ClientStats = ClientStats()

    def __init__(self, config: Config, server_state: ServerState, app_state: dict[str, Any],
                 _loop: asyncio.AbstractEventLoop | None = None) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self._phase = EMPTY
        self._request = 0  # requests begun on this connection (the first one counts as 0)
        self._seen = -1  # what the last tick saw: the request, times 2, +1 in its body
        self._stalled = 0  # ticks that saw it so far
        self._watch: TimerHandle | None = None
        self._pending_head = 0  # bytes of the head being read, in reads after its first
        self._head_in_read = False  # the head being read began in the current read
        self._read_size = 0
        self._head_first_read = 0  # the size of the read the head began in

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        stats = self.stats
        stats.open += 1
        limits = self.limits
        if len(self.connections) > limits.max_connections:
            stats.refused += 1
            self._phase = REFUSED
            transport.write(self._refusal_503())
            transport.close()
            return
        self._seen = 0  # the first head's time counts from now
        self._watch = self.loop.call_later(limits.tick_s, self._watchdog)

    def _refusal_503(self) -> bytes:
        return refusal(503, "Service Unavailable",
                       (("retry-after", str(self.limits.retry_after_s)),))

    def connection_lost(self, exc: Exception | None) -> None:
        self.stats.open -= 1
        watch = self._watch
        if watch is not None:
            watch.cancel()
            self._watch = None
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._phase == REFUSED:
            return
        self._read_size = len(data)
        self._head_in_read = False
        # uvicorn's data_received, except that a refusal from a callback ends the read
        # quietly (uvicorn would answer it 400 and log a warning).
        self._unset_keepalive_if_required()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
            return
        except httptools.HttpParserError as exc:
            if isinstance(exc.__context__, _Refused):
                return
            message = "Invalid HTTP request received."
            self.logger.warning(message)
            self.send_400_response(message)
            return
        if self._phase == HEAD and not self._head_in_read:
            # All of this read belongs to a head begun before it (its first read may hold
            # requests before it, so is not counted): this bounds what the parser buffers.
            self._pending_head += len(data)
            if self._pending_head > self.limits.max_head_bytes:
                self._refuse_head()

    # -- parser callbacks ------------------------------------------------------------------

    def _begin(self) -> None:
        """A request's first byte: its head has `header_timeout_s` from now (the first
        request: from when the connection opened)."""
        phase = self._phase
        if phase == HEAD:
            return
        if phase != EMPTY:
            self._request += 1
        self._phase = HEAD
        self._pending_head = 0
        self._head_in_read = True
        self._head_first_read = self._read_size

    def _head_read(self) -> None:
        """The head is complete: refuse it if too large, else its body's deadline starts."""
        if self._phase == BODY:
            return
        limit = self.limits.max_head_bytes
        bound = self._head_first_read + self._pending_head  # at least the head's size
        if not self._head_in_read:
            bound += self._read_size
        if bound > limit and self._head_size() > limit:
            self._refuse_head()
            raise _Refused
        self._phase = BODY

    def _head_size(self) -> int:
        return len(self.url) + sum(len(name) + len(value) + 4 for name, value in self.headers)

    def on_message_begin(self) -> None:
        self._begin()
        super().on_message_begin()

    def on_headers_complete(self) -> None:
        self._head_read()
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._phase = ANSWERING
        super().on_message_complete()

    # -- refusals --------------------------------------------------------------------------

    def _refuse_head(self) -> None:
        self.stats.heads_too_large += 1
        self._close_with(TOO_LARGE_431)

    def _close_with(self, answer: bytes) -> None:
        phase, self._phase = self._phase, REFUSED
        transport = self.transport
        if transport.is_closing():
            return
        if self._answerable(phase):
            transport.write(answer)
        transport.close()

    def _answerable(self, phase: int) -> bool:
        """Whether a refusal can go out now: not when it would overtake (or cut into) an
        earlier pipelined answer, nor follow the app's own answer to this request (an
        app may answer before it reads the body: then the connection is just closed)."""
        cycle = self.cycle
        if self.pipeline:
            return False
        if phase == BODY and cycle is not None and cycle.scope is self.scope:
            return not cycle.response_started  # uvicorn's cycle of this very request
        return cycle is None or cycle.response_complete

    def _watchdog(self) -> None:
        phase = self._phase
        if phase == REFUSED or self.transport.is_closing():
            self._watch = None
            return
        limits = self.limits
        self._watch = self.loop.call_later(limits.tick_s, self._watchdog)
        if phase == ANSWERING:
            self._seen = -1
            return
        seen = self._request * 2 + (phase == BODY)
        if seen != self._seen:
            self._seen, self._stalled = seen, 0
            return
        self._stalled += 1
        timeout = limits.body_timeout_s if phase == BODY else limits.header_timeout_s
        if self._stalled < limits.ticks(timeout):
            return
        if phase == EMPTY:
            self.stats.head_timeouts += 1
            self._phase = REFUSED
            self.transport.close()  # nothing was sent: nothing to answer
            return
        if phase == HEAD:
            self.stats.head_timeouts += 1
        else:
            self.stats.body_timeouts += 1
        log.debug("closing a connection whose request was not read in time (%s)",
                  "head" if phase == HEAD else "body")
        self._close_with(TIMEOUT_408)


def guarded_protocol(limits: ClientLimits, stats: ClientStats | None = None,
                     base: type[GuardedProtocol] = GuardedProtocol) -> type[GuardedProtocol]:
    """A protocol class for `uvicorn.Config(http=...)` applying `limits`."""
    return type("Guarded" + base.__name__, (base,),
                {"limits": limits, "stats": stats or ClientStats()})
