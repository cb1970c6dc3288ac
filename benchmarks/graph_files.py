"""Time and peak memory of reading, validating and compiling a big graph file.

    python -m benchmarks.graph_files [--campaigns 10000] [--rounds 1] [--json]

The graph (benchmarks.big_graph) is written as YAML and JSON before anything is timed.
Each measurement runs in a fresh interpreter, so its peak RSS is its own: `load` reads
the file into the model, `validate` loads and validates (what `turnout graph validate`
does), `compile` loads and compiles (validation included, as an edge does per version).
The baseline is PyYAML's own loader with the same scalar rules (`reference` rows).
Times are CPU seconds of the process (on a shared machine the wall clock also counts the
time other tenants held the core); `wall s` is the whole measurement's wall clock.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from turnout.config.io import dump_graph

from .big_graph import generate

STAGES = ("load", "validate", "compile")


def _child(stage: str, file: Path) -> dict[str, float]:
    """One measurement, in this (fresh) process."""
    from turnout.config.compile import compile_graph
    from turnout.config.decode import graph_from_builtins
    from turnout.config.io import load_graph
    from turnout.config.validate import validate
    from turnout.config.yaml_reader import reference_load

    started, wall = time.process_time(), time.perf_counter()
    if stage == "reference":
        graph = graph_from_builtins(reference_load(file.read_text(encoding="utf-8")))
    else:
        graph = load_graph(file)
    loaded = time.process_time()
    if stage == "validate":
        assert validate(graph) == []
    elif stage == "compile":
        compile_graph(graph, version=1)
    done = time.process_time()
    return {"load_s": loaded - started, "stage_s": done - loaded, "total_s": done - started,
            "wall_s": time.perf_counter() - wall,
            "peak_rss_mb": _peak_rss_kb() / 1024}


def _peak_rss_kb() -> int:
    # Not getrusage: its ru_maxrss survives fork and exec, so a child would report the
    # parent's peak (which holds the generated graph). VmHWM belongs to this process image.
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _measure(stage: str, file: Path) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.graph_files", "--child", stage, str(file)],
        check=True, capture_output=True, text=True,
    ).stdout
    return json.loads(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--campaigns", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=1, help="medians over this many runs")
    parser.add_argument("--no-reference", action="store_true",
                        help="skip the baseline (a minute and 2 GB at 10,000 campaigns)")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--child", nargs=2, metavar=("STAGE", "FILE"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(_child(args.child[0], Path(args.child[1]))))
        return 0
    graph = generate(args.campaigns, args.seed)
    results: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory() as tmp:
        files = {}
        for fmt in ("yaml", "json"):
            files[fmt] = Path(tmp) / f"graph.{fmt}"
            files[fmt].write_text(dump_graph(graph, fmt), encoding="utf-8")
        runs = [(fmt, stage) for fmt in files for stage in STAGES]
        if not args.no_reference:
            runs.append(("yaml", "reference"))
        samples: dict[tuple[str, str], list[dict[str, float]]] = {run: [] for run in runs}
        for _ in range(args.rounds):  # rounds alternate the cases: noise hits them alike
            for fmt, stage in runs:
                samples[fmt, stage].append(_measure(stage, files[fmt]))
        for (fmt, stage), measured in samples.items():
            row: dict[str, object] = {"format": fmt, "stage": stage,
                                      "mb": round(files[fmt].stat().st_size / 1e6, 1)}
            for key in measured[0]:
                row[key] = round(statistics.median(m[key] for m in measured), 3)
            results.append(row)
    if args.json:
        print(json.dumps({"campaigns": args.campaigns, "rounds": args.rounds,
                          "results": results}, indent=2))
        return 0
    print(f"{args.campaigns} campaigns, medians of {args.rounds} round(s), fresh process each")
    print(f"{'format':6} {'stage':9} {'file MB':>8} {'load s':>7} {'stage s':>8} {'total s':>8}"
          f" {'wall s':>7} {'peak MB':>8}")
    for row in results:
        print(f"{row['format']:6} {row['stage']:9} {row['mb']:>8} {row['load_s']:>7.2f} "
              f"{row['stage_s']:>8.2f} {row['total_s']:>8.2f} {row['wall_s']:>7.2f} "
              f"{row['peak_rss_mb']:>8.0f}")
    reference = next((r for r in results if r["stage"] == "reference"), None)
    if reference is not None:
        fast = next(r for r in results if r["format"] == "yaml" and r["stage"] == "load")
        print(f"YAML load vs reference loader: {reference['load_s'] / fast['load_s']:.1f}x "
              f"faster, {reference['peak_rss_mb'] / fast['peak_rss_mb']:.1f}x less memory")
    return 0


if __name__ == "__main__":
    sys.exit(main())
