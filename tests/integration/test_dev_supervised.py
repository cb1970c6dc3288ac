"""A supervised `turnout dev`: a child that dies is restarted (and dev says so) without a
click lost or counted twice, and a stop with clicks ingest has not stored hands them to the
next run on the same data dir, whose tansu has a new port and starts empty."""

from __future__ import annotations

import os
import re
import signal
import sys
import threading
from pathlib import Path

from tests.integration.dev_support import (
    DevRun,
    click,
    report_clicks,
    wait_for_clicks,
)
from turnout.edge.sink.spool import list_segments, named_cluster_tag

TURNOUT = [sys.executable, "-m", "turnout.cli.main"]
# Clicks need no exchange rates: each start skips importing them (seconds on a busy box).
NO_RATES = ("--fx-rates", "")
# The killed ingest's group member is dropped after the session timeout, and the restarted
# one gets its partitions only then: a short session keeps the test's wait to a few seconds.
QUICK_GROUP = {"TURNOUT_INGEST_SESSION_TIMEOUT_MS": "3000",
               "TURNOUT_INGEST_HEARTBEAT_INTERVAL_MS": "500"}


class Traffic(threading.Thread):
    """Clicks one after another until stopped; counts those the edge accepted (302)."""

    def __init__(self, dev: DevRun) -> None:
        super().__init__(daemon=True)
        self.banner = dev.banner()
        self.accepted = 0
        self.errors: list[BaseException] = []
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            try:
                click(self.banner)
            except BaseException as exc:  # a refused click fails the test, in the main thread
                self.errors.append(exc)
                return
            self.accepted += 1

    def stop(self) -> int:
        self._halt.set()
        self.join(10)
        assert not self.errors, self.errors
        return self.accepted

    def wait_for(self, clicks: int) -> None:
        while self.accepted < clicks:
            assert not self.errors and self.is_alive(), self.errors
            self._halt.wait(0.05)


def test_a_stops_unstored_clicks_reach_the_next_run_whose_killed_ingest_loses_none(
        tmp_path: Path) -> None:
    """One lifecycle, as each dev start is seconds on a busy box: a stop with clicks ingest
    has not stored carries them over; the next run reports them once, and an ingest it
    has SIGKILLed mid-traffic is restarted with every click counted once."""
    data = tmp_path / "data"
    dev = DevRun(TURNOUT, tmp_path, data, extra=[*NO_RATES, "--ingest-stop-timeout", "2"])
    try:
        banner = dev.banner()
        # A frozen ingest stores and commits nothing more: every click below is in tansu's
        # memory only when dev stops, and ingest is SIGKILLed after its 2 s.
        os.kill(dev.child_pid("ingest-api"), signal.SIGSTOP)
        clicks = 25
        for _ in range(clicks):
            click(banner)
        code = dev.interrupt(signum=signal.SIGTERM)
    finally:
        dev.kill()
    output = dev.output()
    assert code == 1 and "ingest-api exited with -9 on stop" in output, output
    carried = re.search(r"carried (\d+) events ingest had not stored", output)
    assert carried is not None and int(carried.group(1)) >= clicks, output
    # Tagged by the kept cluster name, not by this run's tansu port.
    cluster = (data / "kafka-cluster").read_text().strip()
    assert {s.tag for s in list_segments(data / "spool")} == {named_cluster_tag(cluster)}
    first_kafka = re.search(r"kafka\s+(\S+) \(tansu\)", output)

    again = DevRun(TURNOUT, tmp_path, data, {**os.environ, **QUICK_GROUP}, extra=NO_RATES)
    try:
        banner = again.banner()
        second_kafka = re.search(r"kafka\s+(\S+) \(tansu\)", again.stdout_path.read_text())
        assert first_kafka and second_kafka and first_kafka[1] != second_kafka[1]
        stored = wait_for_clicks(banner, clicks)
        assert stored == clicks, f"carried over: {stored} clicks stored, {clicks} taken"

        traffic = Traffic(again)
        traffic.start()
        traffic.wait_for(30)
        killed = again.child_pid("ingest-api")
        os.kill(killed, signal.SIGKILL)
        again.wait_said("ingest-api exited with -9; restarting in ")
        again.wait_said("ingest-api restarted")
        assert again.child_pid("ingest-api") != killed, "the killed ingest was not restarted"
        traffic.wait_for(traffic.accepted + 30)  # and more after its return
        total = clicks + traffic.stop()
        stored = wait_for_clicks(banner, total)
        assert stored == total, f"ingest killed: {stored} clicks stored, {total} taken"
        counted = report_clicks(banner)  # nothing counted twice later
        assert counted == total, f"ingest killed: {counted} clicks counted, {total} taken"
        code = again.interrupt(signum=signal.SIGTERM)
    finally:
        again.kill()
    output = again.output()
    assert code == 0, output
    assert "Traceback" not in output, output
    assert "another Kafka cluster" not in output and "TURNOUT_EDGE_SECRET" not in output
    assert list((data / "spool").glob("*.seg")) == []  # replayed, then deleted
