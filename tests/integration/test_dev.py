"""`turnout dev` from this checkout: one click and one postback reach a report through the
printed key, and a Ctrl-C stops everything in order, cleanly."""

from __future__ import annotations

import sys
from pathlib import Path

from tests.integration.dev_support import DevRun, click_and_convert, wait_for_report_row


def test_dev_serves_a_click_into_a_report_and_stops_cleanly_on_ctrl_c(tmp_path: Path) -> None:
    dev = DevRun([sys.executable, "-m", "turnout.cli.main"], tmp_path, tmp_path / "data")
    try:
        banner = dev.banner()
        click_and_convert(banner)
        row = wait_for_report_row(banner)
        assert row["clicks"] == 1 and row["conversions"] == 1
        code = dev.interrupt()
    finally:
        dev.kill()
    output = dev.output()
    assert code == 0, output
    assert "Traceback" not in output and "unreachable" not in output, output
    assert dev.warnings() == [], output
    assert "stopped: edge, ingest+api, tansu, valkey" in output
