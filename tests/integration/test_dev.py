"""`turnout dev` from this checkout, over three runs on one data dir (each dev start is
seconds on a busy box, so they are one lifecycle):

1. a Ctrl-C right after a click and a postback stops everything in order, cleanly, and
   loses nothing the edge took;
2. the next run reports them through its printed key; frozen, its ingest stores nothing
   more, and the stop carries what tansu still holds over to the next run;
3. that run (a new tansu port, empty) reports those once; its ingest, SIGKILLed
   mid-traffic, is restarted (and dev says so) without a click lost or counted twice; the
   printed pause command (the owner key, the admin API) stops the edge serving the
   campaign, and it stops cleanly.
"""

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
    click_and_convert,
    pause_as_printed,
    report_clicks,
    wait_for_clicks,
    wait_for_report_row,
    wait_until_not_served,
)
from turnout.edge.sink.spool import list_segments, named_cluster_tag

TURNOUT = [sys.executable, "-m", "turnout.cli.main"]
# The runs after the first need no exchange rates (the first imported them into the data
# dir's chdb): each start skips importing them again (seconds on a busy box).
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


def assert_clean_stop(dev: DevRun, code: int) -> None:
    output = dev.output()
    assert code == 0, output
    assert "Traceback" not in output and "unreachable" not in output, output
    assert dev.warnings() == [], output
    assert "stopped: edge, ingest+api+governor, tansu, valkey, postgres" in output


def test_dev_keeps_every_click_over_stops_carry_overs_and_a_killed_ingest(
        tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = DevRun(TURNOUT, tmp_path, data)
    try:
        banner = first.banner()
        # Ctrl-C at once: ingest may not even have joined its consumer groups yet, and
        # tansu keeps the events in memory only; dev must let ingest store them first.
        click_and_convert(banner)
        click(banner)
        code = first.interrupt()
    finally:
        first.kill()
    assert_clean_stop(first, code)

    second = DevRun(TURNOUT, tmp_path, data, extra=[*NO_RATES, "--ingest-stop-timeout", "2"])
    try:
        banner = second.banner()
        assert "unchanged" in second.stdout_path.read_text()  # the same graph: no version
        row = wait_for_report_row(banner, clicks=2, conversions=1, timeout=30)
        assert row["clicks"] == 2 and row["conversions"] == 1, f"after a Ctrl-C: {row}"
        # A frozen ingest stores and commits nothing more: every click below is in tansu's
        # memory only when dev stops, and ingest is SIGKILLed after its 2 s.
        os.kill(second.child_pid("ingest-api"), signal.SIGSTOP)
        unstored = 25
        for _ in range(unstored):
            click(banner)
        code = second.interrupt(signum=signal.SIGTERM)
    finally:
        second.kill()
    output = second.output()
    assert code == 1 and "ingest-api exited with -9 on stop" in output, output
    carried = re.search(r"carried (\d+) events ingest had not stored", output)
    assert carried is not None and int(carried.group(1)) >= unstored, output
    # Tagged by the kept cluster name, not by this run's tansu port.
    cluster = (data / "kafka-cluster").read_text().strip()
    assert {s.tag for s in list_segments(data / "spool")} == {named_cluster_tag(cluster)}
    second_kafka = re.search(r"kafka\s+(\S+) \(tansu\)", output)

    third = DevRun(TURNOUT, tmp_path, data, {**os.environ, **QUICK_GROUP}, extra=NO_RATES)
    try:
        banner = third.banner()
        third_kafka = re.search(r"kafka\s+(\S+) \(tansu\)", third.stdout_path.read_text())
        assert second_kafka and third_kafka and second_kafka[1] != third_kafka[1]
        total = 2 + unstored
        stored = wait_for_clicks(banner, total)
        assert stored == total, f"carried over: {stored} clicks stored, {total} taken"

        traffic = Traffic(third)
        traffic.start()
        traffic.wait_for(30)
        killed = third.child_pid("ingest-api")
        os.kill(killed, signal.SIGKILL)
        third.wait_said("ingest-api exited with -9; restarting in ")
        third.wait_said("ingest-api restarted")
        assert third.child_pid("ingest-api") != killed, "the killed ingest was not restarted"
        traffic.wait_for(traffic.accepted + 30)  # and more after its return
        total += traffic.stop()
        stored = wait_for_clicks(banner, total)
        assert stored == total, f"ingest killed: {stored} clicks stored, {total} taken"
        counted = report_clicks(banner)  # nothing counted twice later
        assert counted == total, f"ingest killed: {counted} clicks counted, {total} taken"

        pause_as_printed(banner)
        assert wait_until_not_served(banner) < 5.0
        code = third.interrupt()
    finally:
        third.kill()
    assert_clean_stop(third, code)
    output = third.output()
    assert "another Kafka cluster" not in output and "TURNOUT_EDGE_SECRET" not in output
    assert list((data / "spool").glob("*.seg")) == []  # replayed, then deleted
