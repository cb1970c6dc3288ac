"""The soak's figures: latency percentiles, throughput and RSS per process over time, and
how each fault showed to the clients."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from benchmarks.soak_load import Request


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0-100) of `values`; 0.0 when empty."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def rss_kib(pid: int) -> int:
    """VmRSS of `pid` and every process below it (the edge's workers), in KiB; 0 if gone."""
    total = 0
    for one in _tree(pid):
        try:
            for line in Path(f"/proc/{one}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
                    break
        except (OSError, ValueError):
            continue
    return total


def _tree(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        one = todo.pop()
        out.append(one)
        try:
            for task in Path(f"/proc/{one}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, ValueError):
            continue
    return out


@dataclass(frozen=True, slots=True)
class Window:
    """The clicks sent in [start_s, end_s)."""

    start_s: float
    end_s: float
    accepted: int
    refused: int
    errors: int
    p50_ms: float
    p99_ms: float

    @property
    def rate(self) -> float:
        return self.accepted / (self.end_s - self.start_s) if self.end_s > self.start_s else 0.0


def window(requests: Sequence[Request], start_s: float, end_s: float) -> Window:
    inside = [r for r in requests if start_s <= r.at_s < end_s]
    latencies = [r.latency_ms for r in inside if r.outcome == "accepted"]
    return Window(start_s, end_s,
                  accepted=len(latencies),
                  refused=sum(r.outcome == "refused" for r in inside),
                  errors=sum(r.outcome == "error" for r in inside),
                  p50_ms=percentile(latencies, 50), p99_ms=percentile(latencies, 99))


def windows(requests: Sequence[Request], duration_s: float, interval_s: float) -> list[Window]:
    count = max(1, math.ceil(duration_s / interval_s))
    return [window(requests, k * interval_s, min(duration_s, (k + 1) * interval_s))
            for k in range(count)]


@dataclass(frozen=True, slots=True)
class FaultFigures:
    name: str
    at_s: float
    back_s: float  # when the service answered again
    refused: int  # clicks refused from the fault until the next fault
    errors: int
    disturbed_s: float  # from the fault to the last refused/failed click before the next
    max_latency_ms: float


def fault_figures(requests: Sequence[Request], name: str, at_s: float, back_s: float,
                  until_s: float) -> FaultFigures:
    inside = [r for r in requests if at_s <= r.at_s < until_s]
    bad = [r.at_s for r in inside if r.outcome != "accepted"]
    return FaultFigures(name, at_s, back_s,
                        refused=sum(r.outcome == "refused" for r in inside),
                        errors=sum(r.outcome == "error" for r in inside),
                        disturbed_s=(max(bad) - at_s) if bad else 0.0,
                        max_latency_ms=max((r.latency_ms for r in inside), default=0.0))


def rss_summary(samples: Sequence[dict[str, float]]) -> dict[str, dict[str, float]]:
    """Per process: its first, last and largest RSS sample (MB)."""
    names = dict.fromkeys(k for s in samples for k in s if k != "t_s")
    out = {}
    for name in names:
        values = [s[name] for s in samples if name in s]
        out[name] = {"start": values[0], "end": values[-1], "max": max(values)}
    return out
