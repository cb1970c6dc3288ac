"""`--json` prints one JSON object of the figures and nothing else on stdout."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


def test_splitter_json_is_one_object():
    # A subprocess: the benchmark pins its own process to one CPU.
    argv = [sys.executable, "-m", "benchmarks.splitter", "--json", "--decisions", "2000",
            "--campaigns", "20", "--visitors", "200", "--repeat", "1"]
    out = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, check=True).stdout
    figures = json.loads(out)
    assert figures["benchmark"] == "splitter" and figures["decisions"] == 2000
    assert figures["decisions_per_s"] > 0 and figures["ratio"] > 0


@pytest.mark.parametrize("name", ["splitter", "edge", "reports", "graph_publish",
                                  "control_graph", "api_auth", "admin"])
def test_every_owned_benchmark_has_json(name):
    argv = [sys.executable, "-m", f"benchmarks.{name}", "--help"]
    out = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert "--json" in out
