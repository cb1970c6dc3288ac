"""Keep `turnout dev`'s children running: restart one that dies, with backoff, and say so.

One long-lived thread per child starts it, waits for it, restarts it, and finally stops
it. The thread must outlive the child: PR_SET_PDEATHSIG (see `services.die_with_parent`)
fires when the *thread* that forked the child exits, not the process, so a child started
from a short-lived restart thread would be killed as soon as that thread returned.

A child that dies `CrashLoop.deaths` times within `CrashLoop.window_s` is in a crash loop:
its supervisor gives up, says so, and asks dev to stop the whole stack (in order, so what
the others hold is kept).
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from turnout.backoff import Backoff
from turnout.local.services import Service, ServiceError

log = logging.getLogger("turnout.local.supervisor")

RESTART_BACKOFF = Backoff(base=0.5, cap=30.0)
# How long a child must stay up for its next death to count as a first failure again.
STABLE_S = 60.0


@dataclass
class CrashLoop:
    """The restart decision, without processes or clocks: call `died(now)` at each death;
    it answers the delay before the restart, or None when this is a crash loop."""

    backoff: Backoff = RESTART_BACKOFF
    deaths: int = 5
    window_s: float = 120.0
    stable_s: float = STABLE_S
    draw: Callable[[], float] | None = None
    _deaths: deque[float] = field(default_factory=deque, repr=False)
    _failures: int = 0
    _started: float | None = None

    def started(self, now: float) -> None:
        self._started = now

    def died(self, now: float) -> float | None:
        if self._started is not None and now - self._started >= self.stable_s:
            self._failures = 0  # it ran long enough: a new failure, not the same one
        self._deaths.append(now)
        while self._deaths and now - self._deaths[0] > self.window_s:
            self._deaths.popleft()
        if len(self._deaths) >= self.deaths:
            return None
        delay = (self.backoff.delay(self._failures) if self.draw is None
                 else self.backoff.delay(self._failures, self.draw))
        # Never a restart at once, even on a zero draw: a child dying at start would spin.
        delay = max(delay, self.backoff.base / 10)
        self._failures += 1
        return delay

    def summary(self) -> str:
        return f"{len(self._deaths)} deaths in {self.window_s:.0f} s"


Say = Callable[[str], None]


class Supervisor:
    """Owns one child Service from its first start to its stop, on one thread."""

    def __init__(self, service: Service, say: Say, on_give_up: Callable[[], None],
                 start_timeout: float = 60.0, policy: CrashLoop | None = None,
                 after_start: Callable[[], None] | None = None) -> None:
        self.service = service
        self.restarts = 0
        self.gave_up = False
        self._say = say
        self._on_give_up = on_give_up
        self._start_timeout = start_timeout
        self._policy = policy or CrashLoop()
        self._after_start = after_start
        self._bounce_why = ""
        self._stop = threading.Event()
        self._bounce = threading.Event()
        self._stop_timeout = 5.0
        self._ready = threading.Event()
        self._error: ServiceError | None = None
        self._returncode: int | None = None
        self._thread = threading.Thread(target=self._run, name=f"supervise-{service.name}",
                                        daemon=True)

    @property
    def name(self) -> str:
        return self.service.name

    def start(self) -> None:
        """Start the child on the supervisor's thread; return once it answers."""
        self._thread.start()
        self._ready.wait()
        if self._error is not None:
            raise self._error

    def bounce(self, why: str) -> None:
        """SIGKILL the child and start it again at once (not a death: no backoff, no
        crash-loop count). A kill, so it cannot act on a stop: ingest would commit its
        positions in a log that is gone."""
        self._bounce_why = why
        self._bounce.set()

    def stop(self, timeout: float = 5.0) -> int | None:
        """Its stop signal, SIGKILL after `timeout`; the exit status (None: not running)."""
        self._stop_timeout = timeout
        self._stop.set()
        self._thread.join()
        return self._returncode

    def _run(self) -> None:
        try:
            self._start()
        except ServiceError as exc:
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        while not self._stop.is_set():
            if self._bounce.is_set():
                self._bounce.clear()
                self._say(f"restarting {self.name}: {self._bounce_why}")
                if self.service.running:
                    self.service.signal(signal.SIGKILL)
                self.service.stop()
                with contextlib.suppress(ServiceError):  # a failed start is a death below
                    self._start()
            process = self.service.process
            if process is None or process.poll() is not None:
                if not self._restart(None if process is None else process.returncode):
                    return
                continue
            self._stop.wait(0.2)
        self._returncode = (self.service.stop(self._stop_timeout) if self.service.running
                            else None)

    def _start(self) -> None:
        self.service.start(timeout=self._start_timeout)
        self._policy.started(time.monotonic())
        if self._after_start is not None:
            self._after_start()

    def _give_up(self, detail: str) -> bool:
        """Say it is a crash loop and stop supervising; False, for `_restart` to return."""
        self.gave_up = True
        self._say(f"{self.name} is in a crash loop ({self._policy.summary()}); {detail}")
        self._on_give_up()
        return False

    def _restart(self, returncode: int | None) -> bool:
        """Restart after a death; False when giving up (crash loop, or stopping)."""
        self.service.stop()  # reaps it and removes its pid file
        delay = self._policy.died(time.monotonic())
        if delay is None:
            return self._give_up(f"not restarting it; see {self.service.log_file}")
        self._say(f"{self.name} exited with {returncode}; restarting in {delay:.1f} s")
        while not self._stop.wait(delay):
            try:
                self._start()
            except ServiceError as exc:
                delay = self._policy.died(time.monotonic())
                if delay is None:
                    return self._give_up(str(exc))
                self._say(f"{self.name} did not start ({exc}); retrying in {delay:.1f} s")
                continue
            self.restarts += 1
            self._say(f"{self.name} restarted (pid {self.service.process.pid})"
                      if self.service.process is not None else f"{self.name} restarted")
            return True
        return False
