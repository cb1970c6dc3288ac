"""Soak: paced clicks and postbacks through the whole local stack for minutes, with faults
injected on a schedule (issue #15). Not run in CI.

    python -m benchmarks.soak [--minutes 3] [--rate 50] [--postback-share 0.2]
                              [--faults default|off|NAME@SECONDS[,every=S],...]
                              [--interval 30] [--data-dir DIR] [--json]

The stack is `turnout dev`'s (benchmarks/soak_stack.py): Valkey, tansu, PostgreSQL, chdb,
then `turnout ingest --api --governor` and `turnout edge` on the example graph. The load
(benchmarks/soak_load.py) clicks at `--rate` a second, open loop, and posts back for
`--postback-share` of the accepted clicks. Faults (benchmarks/faults.py): tansu_pause,
ingest_kill, edge_restart, valkey_restart, postgres_restart; `default` runs them in turn
every 30 s (less on a short run) and none in the last minute.

At the end the edge is stopped (it flushes), ingest is given until the report API counts
the ledger (or its counts stop moving), then stopped, and ClickHouse is read per id:
lost = accepted but never stored, duplicated = stored rows beyond one per id, for clicks
and conversions. Refused clicks (never accepted: connection refused, 503) are counted
apart from losses. Prints throughput, p50/p99 latency and RSS per process over time (flat
is the goal); with --json one JSON object goes to stdout, progress to stderr. Exit status
1 on any loss or duplicate.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from benchmarks import faults as fault_actions
from benchmarks import soak_schedule
from benchmarks.soak_check import Tally, stored_rows, tally
from benchmarks.soak_figures import fault_figures, percentile, rss_kib, rss_summary, windows
from benchmarks.soak_load import Ledger, Load
from benchmarks.soak_stack import SoakStack, wait_stored
from turnout.ingest.settings import IngestSettings

CATCH_UP_TIMEOUT_S = 300.0


def _args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.soak", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=3.0)
    parser.add_argument("--rate", type=float, default=50.0, help="clicks a second")
    parser.add_argument("--postback-share", type=float, default=0.2)
    parser.add_argument("--faults", default="default")
    parser.add_argument("--interval", type=float, default=30.0, help="sampling seconds")
    parser.add_argument("--data-dir", type=Path, default=None,
                        help="kept afterwards (default: a temp dir, removed)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if args.minutes <= 0 or args.rate <= 0 or args.interval <= 0:
        parser.error("--minutes, --rate and --interval must be above 0")
    if not 0 <= args.postback_share <= 1:
        parser.error("--postback-share must be 0-1")
    try:
        args.schedule = soak_schedule.parse(args.faults)
    except soak_schedule.ScheduleError as exc:
        parser.error(f"--faults: {exc}")
    return args


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


class Sampler(threading.Thread):
    """RSS of each service every `interval` seconds (by name: a restart changes the PID)."""

    def __init__(self, stack: SoakStack, interval_s: float) -> None:
        super().__init__(daemon=True)
        self.stack, self.interval_s = stack, interval_s
        self.samples: list[dict[str, Any]] = []
        self.done = threading.Event()
        self.started = time.monotonic()

    def sample(self) -> None:
        row: dict[str, Any] = {"t_s": round(time.monotonic() - self.started, 1)}
        row.update({name: round(rss_kib(pid) / 1024, 1)
                    for name, pid in self.stack.pids().items()})
        self.samples.append(row)

    def run(self) -> None:
        self.sample()
        while not self.done.wait(self.interval_s):
            self.sample()


def run(args: argparse.Namespace) -> dict[str, Any]:
    duration_s = args.minutes * 60
    schedule = soak_schedule.times(args.schedule, duration_s)
    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="turnout-soak-"))
    stack = SoakStack(data_dir)
    try:
        _say(f"soak: starting the stack under {data_dir}")
        target = stack.start()
        _say(f"soak: {duration_s:.0f} s at {args.rate:g} clicks/s, "
             f"{len(schedule)} faults: {', '.join(f'{n}@{t:.0f}' for t, n in schedule)}")
        load = Load(target, args.rate, args.postback_share)
        stop = threading.Event()
        thread = threading.Thread(target=load.run, args=(duration_s, stop), daemon=True)
        sampler = Sampler(stack, args.interval)
        sampler.start()
        thread.start()
        while not load.started:
            time.sleep(0.01)
        injected = _inject(stack, schedule, load.started)
        thread.join()
        ended_s = time.monotonic() - load.started
        sampler.sample()
        sampler.done.set()
        ledger = load.ledger
        _say(f"soak: load done ({len(ledger.clicks)} clicks accepted); stopping the edge")
        edge_exit = stack.stop_edge()
        counted = wait_stored(target, len(ledger.clicks), len(ledger.conversions),
                              CATCH_UP_TIMEOUT_S)
        _say(f"soak: the report API counts {counted[0]} clicks, {counted[1]} conversions; "
             "stopping ingest")
        ingest_exit = stack.services["ingest-api"].stop(timeout=40.0)
        settings = IngestSettings.from_env(stack.env)
        clicks, conversions = stored_rows(stack.env["TURNOUT_CLICKHOUSE_DSN"],
                                          settings.database)
    finally:
        stack.stop()
    result = _result(args, duration_s, ended_s, ledger, tally(ledger.clicks, clicks),
                     tally(ledger.conversions, conversions), sampler.samples, injected)
    result["exits"] = {"edge": edge_exit, "ingest-api": ingest_exit}
    if args.data_dir is None:
        shutil.rmtree(data_dir, ignore_errors=True)
    return result


def _inject(stack: SoakStack, schedule: list[tuple[float, str]],
            started: float) -> list[tuple[str, float, float]]:
    """Run the schedule in this (long-lived) thread: (name, at_s, back_s) per fault."""
    done = []
    for at_s, name in schedule:
        delay = started + at_s - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        began = time.monotonic() - started
        _say(f"soak: {began:6.1f} s {name}")
        fault_actions.INJECT[name](stack.services)
        done.append((name, began, time.monotonic() - started))
    return done


def _result(args: argparse.Namespace, duration_s: float, ended_s: float, ledger: Ledger,
            clicks: Tally, conversions: Tally, samples: list[dict[str, Any]],
            injected: list[tuple[str, float, float]]) -> dict[str, Any]:
    requests = ledger.requests
    accepted = [r.latency_ms for r in requests if r.outcome == "accepted"]
    ends = ([at for _, at, _ in injected[1:]] + [duration_s])[:len(injected)]
    faults = [dataclasses.asdict(fault_figures(requests, name, at, back, until))
              for (name, at, back), until in zip(injected, ends, strict=True)]
    return {
        "config": {"minutes": args.minutes, "rate": args.rate,
                   "postback_share": args.postback_share, "faults": args.faults,
                   "interval_s": args.interval},
        "duration_s": round(ended_s, 1),
        "clicks": {"sent": len(requests), **dataclasses.asdict(clicks),
                   "refused": sum(r.outcome == "refused" for r in requests),
                   "errors": sum(r.outcome == "error" for r in requests)},
        "conversions": {**dataclasses.asdict(conversions),
                        "refused_attempts": ledger.postback_refusals,
                        "errors": ledger.postback_errors,
                        "given_up": ledger.postbacks_given_up},
        "throughput_per_s": round(len(accepted) / duration_s, 2),
        "latency_ms": {"p50": round(percentile(accepted, 50), 1),
                       "p99": round(percentile(accepted, 99), 1),
                       "max": round(max(accepted, default=0.0), 1)},
        "windows": [{**dataclasses.asdict(w), "rate": round(w.rate, 2)}
                    for w in windows(requests, duration_s, args.interval)],
        "rss_mb": samples,
        "rss_summary_mb": rss_summary(samples),
        "faults": faults,
        "ok": clicks.clean and conversions.clean,
    }


def format_report(result: dict[str, Any]) -> str:
    c, v, lat = result["clicks"], result["conversions"], result["latency_ms"]
    lines = [
        f"soak: {result['duration_s']:.0f} s at {result['config']['rate']:g} clicks/s, "
        f"faults {result['config']['faults']}",
        f"  throughput {result['throughput_per_s']:.1f} clicks/s   latency p50 "
        f"{lat['p50']:.1f} ms  p99 {lat['p99']:.1f} ms  max {lat['max']:.1f} ms",
        f"  clicks      sent {c['sent']}  accepted {c['ledger']}  stored {c['stored']} "
        f"({c['distinct']} ids)  lost {c['lost']}  duplicated {c['duplicated']}  "
        f"refused {c['refused']}  errors {c['errors']}  unexpected {c['unexpected']}",
        f"  conversions accepted {v['ledger']}  stored {v['stored']} ({v['distinct']} ids)  "
        f"lost {v['lost']}  duplicated {v['duplicated']}  refused attempts "
        f"{v['refused_attempts']}  unexpected {v['unexpected']}",
        "  over time (s: clicks/s p99 ms refused | RSS MB per process):",
    ]
    samples = result["rss_mb"]
    for w in result["windows"]:
        rss = min(samples, key=lambda s: abs(s["t_s"] - w["end_s"]), default={})
        memory = "  ".join(f"{k} {v:.0f}" for k, v in rss.items() if k != "t_s")
        lines.append(f"    {w['start_s']:6.0f}-{w['end_s']:<6.0f} {w['rate']:6.1f} "
                     f"{w['p99_ms']:7.1f} {w['refused']:5d} | {memory}")
    lines.append("  RSS MB (start -> end, max): " + "  ".join(
        f"{name} {r['start']:.0f} -> {r['end']:.0f} ({r['max']:.0f})"
        for name, r in rss_summary(samples).items()))
    if result["faults"]:
        lines.append("  faults (at s, back after s, refused, errors, disturbed s, max ms):")
        lines += [f"    {f['name']:<17} {f['at_s']:7.1f} {f['back_s'] - f['at_s']:6.1f} "
                  f"{f['refused']:5d} {f['errors']:4d} {f['disturbed_s']:6.1f} "
                  f"{f['max_latency_ms']:8.1f}" for f in result["faults"]]
    lines.append("  OK: nothing lost, nothing duplicated" if result["ok"]
                 else "  FAILED: lost or duplicated events")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = _args(argv)
    result = run(args)
    if args.json:
        print(json.dumps(result, indent=1))
    else:
        print(format_report(result))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
