"""The supervisor's restart decisions (CrashLoop) and its loop over a stand-in service: no
processes are started."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from turnout.backoff import Backoff
from turnout.local.services import ServiceError
from turnout.local.supervisor import RESTART_BACKOFF, CrashLoop, Supervisor


def test_restart_delays_double_from_half_a_second_up_to_the_cap() -> None:
    loop = CrashLoop(deaths=100, window_s=1.0, draw=lambda: 0.999999)
    delays = [loop.died(now=10.0 * n) for n in range(10)]
    assert Backoff(base=0.5, cap=30.0) == RESTART_BACKOFF
    assert [round(d or 0, 2) for d in delays] == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0,
                                                   30.0, 30.0]


def test_five_deaths_in_two_minutes_are_a_crash_loop() -> None:
    loop = CrashLoop(draw=lambda: 0.5)
    assert all(loop.died(now) is not None for now in (0.0, 10.0, 20.0, 30.0))
    assert loop.died(119.0) is None
    assert loop.summary() == "5 deaths in 120 s"


def test_deaths_spread_wider_than_the_window_are_no_crash_loop() -> None:
    loop = CrashLoop(draw=lambda: 0.5)
    assert all(loop.died(now) is not None for now in range(0, 3000, 31))


def test_a_child_that_ran_long_enough_restarts_after_the_shortest_delay_again() -> None:
    loop = CrashLoop(draw=lambda: 0.999999)
    loop.started(0.0)
    for now in (1.0, 2.0, 3.0):
        loop.died(now)
    loop.started(4.0)
    assert round(loop.died(4.0 + 61.0) or 0, 2) == 0.5


@given(st.lists(st.floats(0.0, 1e6, allow_nan=False), max_size=40),
       st.floats(0.0, 1.0, exclude_max=True))
def test_a_delay_is_never_zero_nor_past_the_cap(gaps: list[float], draw: float) -> None:
    loop = CrashLoop(draw=lambda: draw)
    now = 0.0
    for gap in gaps:
        now += gap
        delay = loop.died(now)
        assert delay is None or 0.05 <= delay <= 30.0


@dataclass
class FakeProcess:
    pid: int
    returncode: int | None = None

    def poll(self) -> int | None:
        return self.returncode


@dataclass
class FakeService:
    """What Supervisor uses of a Service; `fail_starts` starts raise ServiceError."""

    name: str = "ingest-api"
    fail_starts: int = 0
    starts: list[str] = field(default_factory=list)  # the thread each start ran on
    process: FakeProcess | None = None
    stopped: list[float] = field(default_factory=list)
    log_file: Path = Path("/run/ingest-api.log")

    def start(self, timeout: float = 20.0) -> None:
        self.starts.append(threading.current_thread().name)
        if self.fail_starts:
            self.fail_starts -= 1
            raise ServiceError(f"{self.name} exited with 1")
        self.process = FakeProcess(pid=100 + len(self.starts))

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, timeout: float = 5.0) -> int | None:
        self.stopped.append(timeout)
        process, self.process = self.process, None
        if process is None:
            return None
        if process.returncode is None:
            process.returncode = -15
        return process.returncode


def _supervisor(service: FakeService, said: list[str], gave_up: threading.Event,
                deaths: int = 5) -> Supervisor:
    policy = CrashLoop(backoff=Backoff(base=0.01, cap=0.02), deaths=deaths, draw=lambda: 1.0)
    return Supervisor(service, said.append, gave_up.set, policy=policy)  # type: ignore[arg-type]


def _wait(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met"
        time.sleep(0.01)


def test_a_dead_child_is_restarted_on_the_supervisors_own_thread_and_it_says_so() -> None:
    service, said, gave_up = FakeService(), [], threading.Event()
    supervisor = _supervisor(service, said, gave_up)
    supervisor.start()
    first = service.process
    assert first is not None
    first.returncode = 1  # it died
    _wait(lambda: supervisor.restarts == 1)
    # PR_SET_PDEATHSIG fires when the thread that forked a child exits: every start must
    # come from the one thread that lives as long as the child.
    assert service.starts == ["supervise-ingest-api"] * 2
    assert said[0].startswith("ingest-api exited with 1; restarting in 0.0")
    assert said[1] == "ingest-api restarted (pid 102)"
    assert supervisor.stop(timeout=7.0) == -15 and service.stopped[-1] == 7.0
    assert not gave_up.is_set() and not supervisor.gave_up


def test_a_child_that_keeps_dying_is_a_crash_loop_reported_once() -> None:
    service, said, gave_up = FakeService(), [], threading.Event()
    supervisor = _supervisor(service, said, gave_up, deaths=3)
    supervisor.start()
    service.fail_starts = 100
    assert service.process is not None
    service.process.returncode = 1
    assert gave_up.wait(5.0)
    supervisor.stop()
    assert supervisor.gave_up and len(service.starts) == 3
    assert said[-1].startswith("ingest-api is in a crash loop (3 deaths in 120 s)")
    assert sum("crash loop" in line for line in said) == 1


def test_a_first_start_that_fails_raises_to_the_caller() -> None:
    service, gave_up = FakeService(fail_starts=1), threading.Event()
    supervisor = _supervisor(service, [], gave_up)
    try:
        supervisor.start()
    except ServiceError as exc:
        assert "exited with 1" in str(exc)
    else:
        raise AssertionError("no ServiceError")
    assert supervisor.stop() is None and not gave_up.is_set()


def test_stop_during_the_backoff_starts_nothing_more() -> None:
    service, said, gave_up = FakeService(), [], threading.Event()
    policy = CrashLoop(backoff=Backoff(base=30.0, cap=30.0), draw=lambda: 1.0)
    supervisor = Supervisor(service, said.append, gave_up.set, policy=policy)  # type: ignore[arg-type]
    supervisor.start()
    assert service.process is not None
    service.process.returncode = 1
    _wait(lambda: bool(said))
    assert supervisor.stop() is None
    assert len(service.starts) == 1 and said == ["ingest-api exited with 1; restarting in 30.0 s"]


def test_a_bounce_kills_and_starts_the_child_again_without_counting_a_death() -> None:
    service, said, gave_up = FakeService(), [], threading.Event()
    killed: list[int] = []
    service.signal = killed.append  # type: ignore[attr-defined]
    supervisor = _supervisor(service, said, gave_up, deaths=1)
    supervisor.start()
    supervisor.bounce("tansu restarted empty")
    _wait(lambda: len(service.starts) == 2)
    assert killed == [9] and service.starts == ["supervise-ingest-api"] * 2
    assert said == ["restarting ingest-api: tansu restarted empty"]
    assert supervisor.stop() == -15 and not gave_up.is_set()
