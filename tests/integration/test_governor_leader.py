"""One governor leads (SPEC §11): two real `turnout governor` processes; the leader is
killed with SIGKILL while campaigns keep reaching their ends; the other takes over within
the lease, and every campaign is completed exactly once (one claim, one audit row by
`governor`, one notification each)."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import msgspec

from tests.integration.governor_support import control_with, rows
from turnout.config import examples
from turnout.config.io import load_graph
from turnout.config.model import Graph, Schedule
from turnout.local.services import die_with_parent, free_port, stop_process

ROOT = Path(__file__).resolve().parents[2]
TURNOUT = [sys.executable, "-m", "turnout.cli.main"]
CAMPAIGNS = 12
LEASE_S = 1.5


def with_ending_copies(graph: Graph, start: dt.datetime, every_s: float) -> Graph:
    """`CAMPAIGNS` copies of camp-a, the n-th ending n * every_s after `start`."""
    base = next(c for c in graph.campaigns if c.id == "camp-a")
    copies = tuple(
        msgspec.structs.replace(
            base, id=f"ending-{n}", code=f"ENDING_{n}",
            schedule=Schedule(end=(start + dt.timedelta(seconds=n * every_s)).isoformat()))
        for n in range(1, CAMPAIGNS + 1))
    return msgspec.structs.replace(graph, campaigns=(*graph.campaigns, *copies))


class GovernorProcess:
    def __init__(self, name: str, env: dict[str, str], workdir: Path) -> None:
        self.port = free_port()
        self.log_path = workdir / f"{name}.log"
        data = workdir / name
        env = {**env, "TURNOUT_GOVERNOR_PORT": str(self.port),
               "TURNOUT_CLICKHOUSE_DSN": f"chdb://{data / 'chdb'}",
               "TURNOUT_DATA_DIR": str(data)}
        subprocess.run([*TURNOUT, "migrate"], env=env, cwd=ROOT, check=True,
                       capture_output=True)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen([*TURNOUT, "governor"], env=env, cwd=ROOT,
                                            stdout=log, stderr=subprocess.STDOUT,
                                            preexec_fn=die_with_parent)

    def leading(self) -> bool:
        with contextlib.suppress(httpx.HTTPError):
            text = httpx.get(f"http://127.0.0.1:{self.port}/metrics", timeout=1).text
            return "turnout_governor_leading 1" in text
        return False

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def wait_for(check: object, timeout: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if check():  # type: ignore[operator]
            return time.monotonic() - started
        time.sleep(0.05)
    raise AssertionError(f"not within {timeout} s")


async def test_a_killed_leader_is_replaced_and_no_action_runs_twice(
        postgres_url: str, redis_url: str, tmp_path: Path) -> None:
    start = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=6)
    url = await control_with(postgres_url,
                             with_ending_copies(load_graph(examples.GRAPH), start, 0.5))
    env = {**os.environ, "TURNOUT_POSTGRES_URL": url, "TURNOUT_REDIS_URL": redis_url,
           "TURNOUT_GRAPH_PREFIX": f"gov-leader-{os.getpid()}-{time.time_ns()}",
           "TURNOUT_GOVERNOR_INTERVAL_S": "0.2", "TURNOUT_GOVERNOR_LEASE_S": str(LEASE_S)}
    first = GovernorProcess("one", env, tmp_path)
    second = GovernorProcess("two", env, tmp_path)
    try:
        wait_for(lambda: first.leading() or second.leading(), 30)
        leader, other = (first, second) if first.leading() else (second, first)
        assert not other.leading()

        async def completed() -> int:
            found = await rows(url, "SELECT count(*) FROM campaigns WHERE status = "
                                    "'completed' AND id LIKE %s", "ending-%")
            return int(found[0][0])

        deadline = time.monotonic() + 30
        while await completed() < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert await completed() >= 3, leader.log()
        leader.process.send_signal(signal.SIGKILL)
        leader.process.wait(10)
        took_s = wait_for(other.leading, LEASE_S + 5)
        assert took_s < LEASE_S + 2, f"took over after {took_s:.2f} s"
        print(f"takeover after SIGKILL: {took_s:.2f} s (lease {LEASE_S} s)")
        deadline = time.monotonic() + 30
        while await completed() < CAMPAIGNS and time.monotonic() < deadline:
            time.sleep(0.1)
        assert await completed() == CAMPAIGNS, other.log()
    finally:
        for governor in (first, second):
            stop_process(governor.process, 15)
    claims = await rows(url, "SELECT key FROM governor_actions WHERE kind = 'schedule'")
    assert len(claims) == CAMPAIGNS == len({key for (key,) in claims})
    audit = await rows(url, "SELECT entity_id, count(*) FROM audit WHERE actor = 'governor' "
                            "GROUP BY entity_id")
    assert sorted(audit) == sorted((f"ending-{n}", 1) for n in range(1, CAMPAIGNS + 1))
    notes = await rows(url, "SELECT count(*), count(DISTINCT key) FROM notifications")
    assert notes == [(CAMPAIGNS, CAMPAIGNS)]
    assert "Traceback" not in first.log() + second.log()
