"""Instructions per request of the whole server under load: bare uvicorn against the edge.

    python -m benchmarks.edge_callgrind [--duration 20] [--rate 100] [--connections 16]
                                        [--linger-ms 2000] [--baseline TREE] [--keep DIR]
                                        [--json]

Each target runs under valgrind's callgrind (pinned to core 1) with counting off until it
has started and a warm-up wrk run has filled its caches; counting is then switched on
(`callgrind_control -i on`) for one paced wrk run of `--duration` seconds at `--rate`
requests/s with the request ring of benchmarks/edge.lua (benchmarks.wrk), and off
again. What the server executed in that run over the requests wrk got answered is the
figure: every thread's user-space instructions (the event loop, the sink's sealer
thread), not the kernel's, and not the wall clock. It does not depend on who else shares
the machine, unlike `benchmarks.edge`'s CPU time; compare trees in one run (`--baseline`).

The edge runs against a real local stack (Valkey with the example graph, tansu), so the
event sink does all its work. Under valgrind the edge answers ~100 times more slowly, so
its sink batches, cut by the 20 ms linger, would hold ~100 times fewer events than at
full speed, and the sink's per-batch work would count ~100 times over; the linger is
raised (`--linger-ms`, 2000) so that a batch holds about as many events as at full speed
(~200 per 20 ms at 10,000 req/s; `events_per_batch` is rate x linger); counting starts
a linger after the warm-up and stops a linger after the run, so that the sink's work
counted is that of the run's events. Paced, not closed
loop, so that every target is counted at the same rate: in a closed loop a faster tree
gets bigger sink batches and more requests per pass of the event loop, which moved the
same tree's figure by ~5 % from run to run. At that rate most requests have a pass of the
event loop to themselves, which a loaded server shares among several: bare uvicorn's
figure, more than the edge's, is above its full-speed cost. `--keep DIR` keeps the
callgrind files, for `callgrind_annotate`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks import wrk
from benchmarks.edge import CODE, edge_argv, publish_example, wait_http

START_TIMEOUT_S = 600.0  # imports, the graph and the GeoIP databases, under valgrind


def callgrind_total(path: Path) -> int:
    """The instructions a callgrind output file counted (its `totals:` line)."""
    for line in path.read_text().splitlines():
        if line.startswith("totals:"):
            return int(line.split()[1])
    raise ValueError(f"{path}: no totals line")


def measure(name: str, argv: list[str], env: dict[str, str], cwd: Path, out: Path,
            args: argparse.Namespace) -> dict[str, Any]:
    """One target's instructions per answered request over one counted wrk run."""
    from turnout.local.services import free_port, stop_process

    port = free_port()
    command = [part.replace("{port}", str(port)) for part in argv]
    process = subprocess.Popen(
        ["taskset", "-c", "1", "valgrind", "--tool=callgrind", "--instr-atstart=no",
         f"--callgrind-out-file={out}", *command],
        env={**env, "TURNOUT_EDGE_PORT": str(port)}, cwd=cwd,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    path = f"/c/{CODE}"
    base = f"http://127.0.0.1:{port}"
    try:
        wait_http(port, path, START_TIMEOUT_S)
        wrk.run(base, path, 5, args.connections)  # warm every cache the ring touches
        # The sink sends a batch at most a linger after its first event: waiting that long
        # before counting leaves the warm-up's events out, and after, counts all the run's.
        settle = args.linger_ms / 1000 + 1.0
        time.sleep(settle)
        subprocess.run(["callgrind_control", "-i", "on", str(process.pid)], check=True,
                       capture_output=True)
        result = wrk.run(base, path, args.duration, args.connections, args.rate)
        time.sleep(settle)
        subprocess.run(["callgrind_control", "-i", "off", str(process.pid)], check=True,
                       capture_output=True)
    finally:
        stop_process(process, 120)
    requests = max(1, result["requests"])
    return {"target": name, "requests": result["requests"], "rps": result["rps"],
            "late_sends": result["late_sends"],
            "events_per_batch": result["rps"] * args.linger_ms / 1000,
            "instructions_per_request": callgrind_total(out) / requests}


def _edge(tree: Path) -> list[str]:
    """benchmarks.edge's edge command line, its port (the last argument) left to fill."""
    return [*edge_argv(tree, 0)[:-1], "{port}"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=20, help="seconds counted (20)")
    parser.add_argument("--rate", type=float, default=100,
                        help="requests/s offered while counting (100; the edge under "
                        "valgrind carries ~150-200)")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--linger-ms", type=int, default=2000,
                        help="the edge sink's linger under valgrind (2000)")
    parser.add_argument("--baseline", type=Path,
                        help="another source tree with its own .venv: its edge too, as "
                        "edge_base")
    parser.add_argument("--keep", type=Path, help="keep the callgrind files in this directory")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    for tool in ("valgrind", "callgrind_control", "wrk"):
        if shutil.which(tool) is None:
            print(f"{tool} is not installed (apt-get install -y valgrind wrk)", file=sys.stderr)
            return 2
    from turnout.local.services import local_stack
    from turnout.topics import ensure_topics

    targets = [("bare", [sys.executable, "-m", "benchmarks.edge", "--serve-bare", "{port}"],
                wrk.ROOT), ("edge", _edge(wrk.ROOT), wrk.ROOT)]
    if args.baseline:
        targets.append(("edge_base", _edge(args.baseline), args.baseline))
    results = []
    with tempfile.TemporaryDirectory(prefix="turnout-callgrind-") as tmp, \
            local_stack(Path(tmp) / "stack") as stack:
        keep = args.keep or Path(tmp)
        keep.mkdir(parents=True, exist_ok=True)
        asyncio.run(ensure_topics(stack.kafka_bootstrap))
        asyncio.run(publish_example(stack.redis_url))
        env = {**os.environ, **stack.environ(), "TURNOUT_EDGE_TRUSTED_PROXIES": "127.0.0.1/32",
               "TURNOUT_EDGE_SECRET": "benchmark-secret-not-for-production",
               "TURNOUT_SINK_LINGER_MS": str(args.linger_ms)}
        for name, argv, cwd in targets:
            results.append(measure(name, argv, env, cwd, keep / f"callgrind.{name}.out", args))
    by_name = {r["target"]: r["instructions_per_request"] for r in results}
    if args.json:
        print(json.dumps({"benchmark": "edge_callgrind", "duration_s": args.duration,
                          "connections": args.connections, "rate": args.rate,
                          "linger_ms": args.linger_ms,
                          "targets": results}, indent=2))
        return 0
    for r in results:
        ratio = by_name["bare"] / r["instructions_per_request"]
        print(f"{r['target']:9} {r['instructions_per_request']:>10,.0f} instructions/request "
              f"over {r['requests']} requests (bare / this: {ratio:.2f}"
              + (f"; ~{r['events_per_batch']:.0f} events per sink batch)"
                 if r["target"] != "bare" else ")"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
