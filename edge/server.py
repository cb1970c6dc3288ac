"""Running the edge: uvicorn with uvloop + httptools, N worker processes.

The HTTP protocol is edge.protocol.EdgeProtocol: uvicorn's httptools protocol, except
that click paths are answered inside the parser callback instead of an ASGI cycle.

uvicorn's own proxy-header handling is off: the edge applies trusted proxies itself
(edge.addresses), and uvicorn's would rewrite the client address from any peer it trusts
by default. The access log is off unless asked for, because it would log client
addresses and query strings (postback secrets among them).

With several workers the parent creates the file where they add their metrics up
(edge.metric_slots) before uvicorn starts them, and removes it when they are gone.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets

import uvicorn

from turnout.edge import metric_slots
from turnout.edge.app import EdgeApp
from turnout.edge.metrics import Metrics
from turnout.edge.settings import SECRET_VARIABLE, EdgeSettings
from turnout.slow_clients import open_files_needed, raise_open_files

log = logging.getLogger(__name__)
# uvicorn's httptools protocol with the click paths answered inline (edge.protocol).
PROTOCOL = "turnout.edge.protocol:EdgeProtocol"
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(process)d] %(message)s"


def configure_logging() -> None:
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)


def create_app() -> EdgeApp:
    """The uvicorn factory: each worker process builds its own app from the environment."""
    configure_logging()
    settings = EdgeSettings.from_env()
    return EdgeApp(settings, metrics=worker_metrics(settings))


def worker_metrics(settings: EdgeSettings) -> Metrics:
    """A worker's Metrics: with several workers, in a slot of the parent's file."""
    if settings.workers <= 1:
        return Metrics()
    try:
        slot = metric_slots.WorkerSlot.claim(metric_slots.path_for(os.getppid()))
    except (OSError, metric_slots.SlotFileError) as exc:
        log.warning("no shared metrics file (%s): /metrics answers for this worker only", exc)
        return Metrics()
    return Metrics(slot)


def ensure_shared_secret() -> None:
    """Without a configured secret, make one now so every worker signs with the same key."""
    if not (os.environ.get(SECRET_VARIABLE) or os.environ.get(SECRET_VARIABLE + "_FILE")):
        log.warning("%s is not set: using a random secret for this run; LP-click cookies "
                    "and double-meta links will not survive a restart", SECRET_VARIABLE)
        os.environ[SECRET_VARIABLE] = secrets.token_urlsafe(32)


def run(settings: EdgeSettings) -> None:
    settings.client_limits  # noqa: B018 (a bad value fails here, not in every worker)
    raise_open_files(open_files_needed(settings.max_connections, settings.workers))
    with contextlib.ExitStack() as stack:
        if settings.workers > 1:
            shared = metric_slots.path_for(os.getpid())
            try:
                stack.enter_context(metric_slots.parent_file(shared, settings.workers))
            except OSError as exc:
                log.warning("cannot create %s (%s): each worker's /metrics will answer for "
                            "itself only", shared, exc.strerror)
        _serve(settings)


def _serve(settings: EdgeSettings) -> None:
    uvicorn.run(
        "turnout.edge.server:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        loop="uvloop",
        http=PROTOCOL,
        lifespan="on",
        access_log=settings.access_log,
        proxy_headers=False,
        server_header=False,
        timeout_graceful_shutdown=max(1, int(settings.drain_seconds)),
        timeout_keep_alive=settings.keep_alive_s,  # type: ignore[arg-type]  # a float works
        log_level="info",
    )
