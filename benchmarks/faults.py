"""The soak's faults, each blocking until the service it hit answers again: a hung broker
(SIGSTOP tansu for a while), a crashed ingest (SIGKILL, restart), a redeployed edge
(SIGTERM: it drains and flushes; restart), and Valkey and PostgreSQL stopped and
restarted on their ports."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable

from turnout.local.services import Service

TANSU_PAUSE_S = 5.0
DOWN_S = 2.0  # Valkey and PostgreSQL stay down this long
RESTART_TIMEOUT_S = 90.0


def _tansu_pause(services: dict[str, Service]) -> None:
    tansu = services["tansu"]
    tansu.pause()
    try:
        time.sleep(TANSU_PAUSE_S)
    finally:
        tansu.resume()


def _ingest_kill(services: dict[str, Service]) -> None:
    ingest = services["ingest-api"]
    ingest.signal(signal.SIGKILL)
    ingest.stop()  # reaps it
    ingest.start(timeout=RESTART_TIMEOUT_S)


def _edge_restart(services: dict[str, Service]) -> None:
    edge = services["edge"]
    edge.stop(timeout=30.0)
    edge.start(timeout=RESTART_TIMEOUT_S)


def _restart(name: str) -> Callable[[dict[str, Service]], None]:
    def restart(services: dict[str, Service]) -> None:
        service = services[name]
        service.stop()
        time.sleep(DOWN_S)
        service.start(timeout=RESTART_TIMEOUT_S)

    return restart


INJECT: dict[str, Callable[[dict[str, Service]], None]] = {
    "tansu_pause": _tansu_pause,
    "ingest_kill": _ingest_kill,
    "edge_restart": _edge_restart,
    "valkey_restart": _restart("valkey"),
    "postgres_restart": _restart("postgres"),
}
