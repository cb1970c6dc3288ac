"""An ingest whose stop hangs exits at its deadline (TURNOUT_INGEST_STOP_TIMEOUT_S)."""

from __future__ import annotations

import subprocess
import sys
import time

from turnout.ingest.settings import IngestSettings

HANGS = ("from turnout.ingest.consumer import _exit_unless_stopped_within\n"
         "_exit_unless_stopped_within(0.3)\n"
         "import time; time.sleep(30)\n")


def test_a_stop_that_hangs_ends_the_process_at_the_deadline() -> None:
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-c", HANGS], capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 3
    assert "ingest did not stop within" in done.stderr
    assert time.monotonic() - started < 25  # far below the 30 s the child would sleep


def test_the_deadline_is_a_setting() -> None:
    assert IngestSettings.from_env({}).stop_timeout_s == 30.0
    assert IngestSettings.from_env({"TURNOUT_INGEST_STOP_TIMEOUT_S": "4.5"}).stop_timeout_s == 4.5
