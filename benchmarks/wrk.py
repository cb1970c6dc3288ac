"""wrk with the edge's request ring, closed-loop or paced, and the figures it prints.

Both modes send the ring of benchmarks/edge.lua; the paced one (benchmarks/edge_paced.lua)
offers a fixed total rate over all connections. wrk runs one thread on core 0. Its
latency of a request runs from the request's first write to the end of its response, so
the pacing delay is not in it; a request that could not be sent on time because every
connection was busy is counted as late (`late_sends`, `max_lag_us`) instead.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CLOSED_LUA = ROOT / "benchmarks" / "edge.lua"
PACED_LUA = ROOT / "benchmarks" / "edge_paced.lua"
MARK = "turnout-wrk "


def argv(url: str, path: str, duration: int, connections: int, rate: float | None = None
         ) -> list[str]:
    """The wrk command line; `rate` (requests/s over all connections) makes it paced."""
    script, extra = (CLOSED_LUA, []) if rate is None else (PACED_LUA, [f"{rate:.1f}"])
    # One thread: the paced script's schedule is per thread, so it offers the whole rate.
    return ["taskset", "-c", "0", "wrk", "-t1", f"-c{connections}", f"-d{duration}s",
            "-s", str(script), url, "--", path, *extra]


def parse(out: str) -> dict[str, Any]:
    """The figures of the `turnout-wrk {json}` line edge.lua's done() prints, in ms."""
    line = next((line for line in out.splitlines() if line.startswith(MARK)), None)
    if line is None:
        raise ValueError("wrk printed no turnout-wrk line (was the script loaded?)")
    raw = json.loads(line[len(MARK):])
    seconds = raw["duration_us"] / 1e6
    figures: dict[str, Any] = {
        "rps": raw["requests"] / seconds if seconds > 0 else 0.0,
        "requests": raw["requests"],
        "mean_ms": raw["mean_us"] / 1000,
        "late_sends": raw["late_sends"],
        "max_lag_ms": raw["max_lag_us"] / 1000,
        "bad_responses": raw["status_errors"],
        "socket_errors": raw["socket_errors"],
        "timeouts": raw["timeouts"],
    }
    for name in ("p50", "p90", "p99", "p999", "max"):
        figures[f"{name}_ms"] = raw[f"{name}_us"] / 1000
    return figures


def run(url: str, path: str, duration: int, connections: int, rate: float | None = None
        ) -> dict[str, Any]:
    out = subprocess.run(argv(url, path, duration, connections, rate), capture_output=True,
                         text=True, check=True).stdout
    figures = parse(out)
    if rate is not None:
        figures["offered_rps"] = rate
    return figures
