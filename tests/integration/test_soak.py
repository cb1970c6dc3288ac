"""`python -m benchmarks.soak` for a few seconds on its own stack (it kills and restarts
services, so never the session's): an edge restart under load loses and duplicates
nothing, the clicks it refused are counted apart, and --json is the whole report."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

# 28-50 s on the shared 2-core machine, nearly all of it the stack's start (five
# services, migrations, keys, rates, ingest and the edge): over the 25 s budget.
pytestmark = pytest.mark.slow

SERVICES = {"valkey", "tansu", "postgres", "ingest-api", "edge"}


def test_a_short_soak_with_an_edge_restart_loses_and_duplicates_nothing(
        tmp_path: Path) -> None:
    data_dir = tmp_path / "soak"
    run = subprocess.run(
        [sys.executable, "-m", "benchmarks.soak", "--minutes", "0.125", "--rate", "40",
         "--faults", "edge_restart@2", "--interval", "3", "--data-dir", str(data_dir),
         "--json"],
        capture_output=True, text=True, timeout=180, cwd=Path(__file__).parents[2])
    assert run.returncode == 0, f"{run.stdout}\n{run.stderr}"
    result = json.loads(run.stdout)

    clicks, conversions = result["clicks"], result["conversions"]
    assert clicks["sent"] == 300
    assert clicks["lost"] == clicks["duplicated"] == clicks["unexpected"] == 0
    assert clicks["ledger"] == clicks["stored"] == clicks["distinct"] > 0
    # The restarted edge was down a moment: those clicks were refused, not lost.
    assert clicks["refused"] > 0
    assert clicks["ledger"] + clicks["refused"] + clicks["errors"] == clicks["sent"]
    assert conversions["lost"] == conversions["duplicated"] == 0
    assert conversions["ledger"] == conversions["stored"] > 0

    [fault] = result["faults"]
    # Refusals are counted from the fault on; one run on a machine busy with a second
    # stack also had refusals before it (unexplained), so only the fault's are required.
    assert fault["name"] == "edge_restart" and 0 < fault["refused"] <= clicks["refused"]
    assert fault["back_s"] > fault["at_s"] >= 2
    assert result["ok"] is True and result["exits"]["ingest-api"] in (0, -15)
    assert result["latency_ms"]["p50"] <= result["latency_ms"]["p99"]
    assert set(result["rss_mb"][0]) >= SERVICES and set(result["rss_mb"][-1]) >= SERVICES
    assert sum(w["accepted"] for w in result["windows"]) == clicks["ledger"]
    # Its services are all stopped: nothing left behind in the run dir.
    assert not list((data_dir / "run").glob("*.pid"))
