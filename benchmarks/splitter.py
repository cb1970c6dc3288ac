"""Splitter decisions per second on one core, against a bare dict lookup + random() loop.

    python -m benchmarks.splitter [--json] [--decisions N] [--campaigns N] [--cpu N]
                                  [--no-reference]

The process pins itself to one CPU with sched_setaffinity (the same as running under
`taskset -c 1`) before building anything; the graph, the visitors and the click stream are
all prepared before timing; each loop runs `--repeat` times and the best run counts, as
`timeit` does, because the machine is shared and noise only ever slows a run down.
`decide` is the C extension when it is built; the pure-Python reference (`decide_py`) is
timed in the same run, over the same stream, unless `--no-reference`.
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import random
import sys
import time

from benchmarks.splitter_graph import TIMEZONES, campaign, visitors
from turnout.splitter import CampaignTable, Visitor, build_table, decide
from turnout.splitter.decide import decide_c, decide_py

NOW_MS = 1_718_000_000_000  # 2024-06-10, a Monday


def pin(cpu: int) -> int | None:
    if not hasattr(os, "sched_setaffinity"):
        return None
    allowed = os.sched_getaffinity(0)
    target = cpu if cpu in allowed else min(allowed)
    os.sched_setaffinity(0, {target})
    return target


# Each loop returns (wall seconds, CPU seconds of this process). On a shared machine the
# wall clock also counts the time other tenants held our core; CPU time does not, so both
# are printed and the wall clock stays the headline.
Timing = tuple[float, float]


def build(args: argparse.Namespace, rng: random.Random) -> tuple[dict[str, CampaignTable], Timing]:
    """The tables by tracking code, and the time `build_table` took for all of them (the
    graph itself is generated before the clock starts, as `config.compile` has it parsed)."""
    graph = []
    for i in range(args.campaigns):
        rules, default = campaign(rng, args.rules, args.conditions, args.destinations)
        graph.append((f"C{i:05d}", f"camp-{i}", rules, default, rng.choice(TIMEZONES)))
    gc.collect()
    started, cpu = time.perf_counter(), time.process_time()
    tables = {
        code: build_table(campaign_id, rules, default, timezone)
        for code, campaign_id, rules, default, timezone in graph
    }
    return tables, (time.perf_counter() - started, time.process_time() - cpu)


def time_decisions(
    tables: dict[str, CampaignTable], stream: list[tuple[str, Visitor]], decide=decide
) -> Timing:
    now = NOW_MS
    started, cpu = time.perf_counter(), time.process_time()
    for code, visitor in stream:
        decide(tables[code], visitor, now)
    return time.perf_counter() - started, time.process_time() - cpu


def time_baseline(tables: dict[str, CampaignTable], stream: list[tuple[str, Visitor]]) -> Timing:
    rand = random.random
    started, cpu = time.perf_counter(), time.process_time()
    for code, _visitor in stream:
        tables[code]
        rand()
    return time.perf_counter() - started, time.process_time() - cpu


def best(runs: list[Timing]) -> Timing:
    return min(wall for wall, _ in runs), min(cpu for _, cpu in runs)


def main(argv: list[str] | None = None) -> dict[str, object]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--decisions", type=int, default=500_000)
    parser.add_argument("--campaigns", type=int, default=10_000)
    parser.add_argument("--rules", type=int, default=5)
    parser.add_argument("--conditions", type=int, default=3)
    parser.add_argument("--destinations", type=int, default=4)
    parser.add_argument("--visitors", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--cpu", type=int, default=1, help="CPU to pin to")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--no-reference", action="store_true", help="skip timing the pure-Python decide_py"
    )
    parser.add_argument(
        "--zipf",
        type=float,
        default=0.0,
        help="draw campaigns with Zipf exponent S (real traffic is skewed, ~1); 0 = uniform",
    )
    args = parser.parse_args(argv)

    cpu = pin(args.cpu)
    rng = random.Random(args.seed)
    tables, (build_s, build_cpu_s) = build(args, rng)
    pool = visitors(rng, args.visitors)
    codes = list(tables)
    # Visitors are used in the order they were made, as an edge builds one per request and
    # uses it while it is hot; campaigns are drawn uniformly, the worst case for the cache.
    if args.zipf:
        weights = [1 / (rank + 1) ** args.zipf for rank in range(len(codes))]
        picks = rng.choices(codes, weights, k=args.decisions)
    else:
        picks = [rng.choice(codes) for _ in range(args.decisions)]
    stream = [(code, pool[i % len(pool)]) for i, code in enumerate(picks)]
    defaults = sum(
        decide(tables[code], visitor, NOW_MS).rule_id == "default"  # type: ignore[union-attr]
        for code, visitor in stream[:20_000]
    )
    gc.collect()

    decision_s, decision_cpu_s = best([time_decisions(tables, stream) for _ in range(args.repeat)])
    baseline_s, baseline_cpu_s = best([time_baseline(tables, stream) for _ in range(args.repeat)])
    reference = None
    if not args.no_reference and decide is not decide_py:
        reference = best([time_decisions(tables, stream, decide_py) for _ in range(args.repeat)])
    result = {
        "benchmark": "splitter",
        "decisions": args.decisions,
        "campaigns": args.campaigns,
        "campaign_draw": f"zipf {args.zipf}" if args.zipf else "uniform",
        "rules_per_campaign": args.rules,
        "conditions_per_rule": args.conditions,
        "destinations_per_rule": args.destinations,
        "build_seconds": round(build_s, 3),
        "build_us_per_campaign": round(build_s / args.campaigns * 1e6, 1),
        "build_cpu_us_per_campaign": round(build_cpu_s / args.campaigns * 1e6, 1),
        "default_rule_share": round(defaults / min(20_000, len(stream)), 3),
        "decisions_per_s": round(args.decisions / decision_s),
        "decisions_per_cpu_s": round(args.decisions / decision_cpu_s),
        "baseline_ops_per_s": round(args.decisions / baseline_s),
        "baseline_ops_per_cpu_s": round(args.decisions / baseline_cpu_s),
        "ratio": round(baseline_s / decision_s, 4),
        "implementation": "python" if decide_c is None else "c",
        "reference_decisions_per_s": reference and round(args.decisions / reference[0]),
        "reference_decisions_per_cpu_s": reference and round(args.decisions / reference[1]),
        "cpu": cpu,
        "python": platform.python_version(),
    }
    if args.json:
        import json

        print(json.dumps(result))
    else:
        print(
            f"built {args.campaigns} campaigns in {build_s:.2f}s "
            f"({result['build_us_per_campaign']:.0f} us each, "
            f"{result['build_cpu_us_per_campaign']:.0f} us of CPU; "
            f"{result['default_rule_share']:.0%} of clicks fall to the default rule)\n"
            f"decisions: {result['decisions_per_s']:>12,} /s  "
            f"({result['decisions_per_cpu_s']:,} per CPU second; pinned to cpu {cpu}; "
            f"{result['implementation']} decide)\n"
            f"baseline:  {result['baseline_ops_per_s']:>12,} /s  "
            f"({result['baseline_ops_per_cpu_s']:,} per CPU second; dict lookup + random())\n"
            f"ratio:     {result['ratio']:>12.3f}"
        )
        if reference:
            print(
                f"reference: {result['reference_decisions_per_s']:>12,} /s  "
                f"({result['reference_decisions_per_cpu_s']:,} per CPU second; decide_py)"
            )
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
