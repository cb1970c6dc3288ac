"""`turnout dev` from this checkout: a Ctrl-C stops everything in order, cleanly, and loses
nothing the edge took; the next run reports it through its printed key, and the printed
pause command (the owner key, the admin API) stops the edge serving the campaign."""

from __future__ import annotations

import sys
from pathlib import Path

from tests.integration.dev_support import (
    DevRun,
    click,
    click_and_convert,
    pause_as_printed,
    wait_for_report_row,
    wait_until_not_served,
)

TURNOUT = [sys.executable, "-m", "turnout.cli.main"]


def assert_clean_stop(dev: DevRun, code: int) -> None:
    output = dev.output()
    assert code == 0, output
    assert "Traceback" not in output and "unreachable" not in output, output
    assert dev.warnings() == [], output
    assert "stopped: edge, ingest+api+governor, tansu, valkey, postgres" in output


def test_dev_stores_every_click_it_took_before_a_ctrl_c_and_stops_cleanly(
        tmp_path: Path) -> None:
    dev = DevRun(TURNOUT, tmp_path, tmp_path / "data")
    try:
        banner = dev.banner()
        # Ctrl-C at once: ingest may not even have joined its consumer groups yet, and
        # tansu keeps the events in memory only; dev must let ingest store them first.
        click_and_convert(banner)
        click(banner)
        code = dev.interrupt()
    finally:
        dev.kill()
    assert_clean_stop(dev, code)

    again = DevRun(TURNOUT, tmp_path, tmp_path / "data")
    try:
        banner = again.banner()
        assert "unchanged" in again.stdout_path.read_text()  # the same graph: no version
        row = wait_for_report_row(banner, clicks=2, conversions=1, timeout=30)
        assert row["clicks"] == 2 and row["conversions"] == 1
        pause_as_printed(banner)
        assert wait_until_not_served(banner) < 5.0
        code = again.interrupt()
    finally:
        again.kill()
    assert_clean_stop(again, code)
