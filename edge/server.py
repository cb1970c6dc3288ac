"""Running the edge: uvicorn with uvloop + httptools, N worker processes.

The HTTP protocol is edge.protocol.EdgeProtocol: uvicorn's httptools protocol, except
that click paths are answered inside the parser callback instead of an ASGI cycle.

uvicorn's own proxy-header handling is off: the edge applies trusted proxies itself
(edge.addresses), and uvicorn's would rewrite the client address from any peer it trusts
by default. The access log is off unless asked for, because it would log client
addresses and query strings (postback secrets among them).
"""

from __future__ import annotations

import logging
import os
import secrets

import uvicorn

from turnout.edge.app import EdgeApp
from turnout.edge.settings import SECRET_VARIABLE, EdgeSettings

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
    return EdgeApp(EdgeSettings.from_env())


def ensure_shared_secret() -> None:
    """Without a configured secret, make one now so every worker signs with the same key."""
    if not (os.environ.get(SECRET_VARIABLE) or os.environ.get(SECRET_VARIABLE + "_FILE")):
        log.warning("%s is not set: using a random secret for this run; LP-click cookies "
                    "and double-meta links will not survive a restart", SECRET_VARIABLE)
        os.environ[SECRET_VARIABLE] = secrets.token_urlsafe(32)


def run(settings: EdgeSettings) -> None:
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
        log_level="info",
    )
