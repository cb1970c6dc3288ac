"""benchmarks.edge's figures: per-round ratios, medians over rounds, the goals of issue #14.

A round measures every target closed-loop and then paced at one offered rate. Ratios are
taken within a round (the targets ran minutes apart on the same machine) and then the
median over rounds, so that a noisy round moves the result less than a ratio of medians.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Mapping, Sequence
from typing import Any, Final

Figures = Mapping[str, Any]
Round = Mapping[str, Mapping[str, Figures]]  # mode ("closed", "paced") -> target -> figures

# name -> (comparison, bound): closed-loop rate, paced tail and paced median, edge vs bare.
GOALS: Final = {
    "closed_rate_edge_vs_bare": (">=", 0.65),
    "paced_p99_edge_vs_bare": ("<=", 1.5),
    "paced_p50_edge_minus_bare_ms": ("<=", 0.5),
}
BASELINE: Final = "edge_base"  # --baseline: another tree's edge, in the same rounds
MEDIAN_KEYS: Final = ("rps", "p50_ms", "p90_ms", "p99_ms", "p999_ms", "max_ms", "cpu_us",
                      "late_sends", "max_lag_ms", "server_p99_ms", "events_sent")


def paced_rate(bare_closed_rps: float, override: float | None) -> float:
    """The offered rate of the paced runs: `--rate`, or half of bare uvicorn's closed-loop
    rate (the load at which a real edge runs, well below saturation)."""
    if override is not None:
        if override <= 0:
            raise ValueError("--rate must be > 0")
        return override
    return bare_closed_rps / 2


def versus_bare(round_: Round, edge: str = "edge") -> dict[str, float]:
    """An edge target against bare uvicorn within one round."""
    closed, paced = round_["closed"], round_["paced"]
    return {
        "closed_rate_edge_vs_bare": closed[edge]["rps"] / closed["bare"]["rps"],
        # Bare over edge CPU per request: the rate ratio with core 1 to itself.
        "closed_cpu_bare_vs_edge": closed["bare"]["cpu_us"] / closed[edge]["cpu_us"],
        "paced_p50_edge_minus_bare_ms": paced[edge]["p50_ms"] - paced["bare"]["p50_ms"],
        "paced_p99_edge_vs_bare": paced[edge]["p99_ms"] / paced["bare"]["p99_ms"],
        "paced_p999_edge_vs_bare": paced[edge]["p999_ms"] / paced["bare"]["p999_ms"],
    }


def ratios(round_: Round) -> dict[str, float]:
    """The edge against bare uvicorn (and the baseline edge's, suffixed `@base`)."""
    closed = round_["closed"]
    out = versus_bare(round_)
    if BASELINE in closed:
        out |= {f"{name}@base": value for name, value in versus_bare(round_, BASELINE).items()}
        out["closed_cpu_edge_vs_base"] = closed["edge"]["cpu_us"] / closed[BASELINE]["cpu_us"]
    if "nginx" in closed:
        out["closed_rate_bare_vs_nginx"] = closed["bare"]["rps"] / closed["nginx"]["rps"]
    return out


def medians(rounds: Sequence[Round]) -> dict[str, dict[str, dict[str, float]]]:
    """mode -> target -> the median of each figure over the rounds that have it."""
    out: dict[str, dict[str, dict[str, float]]] = {}
    for mode in ("closed", "paced"):
        targets = {name for round_ in rounds for name in round_[mode]}
        for target in sorted(targets):
            runs = [round_[mode][target] for round_ in rounds if target in round_[mode]]
            out.setdefault(mode, {})[target] = {
                key: statistics.median(values) for key in MEDIAN_KEYS
                if (values := [run[key] for run in runs if run.get(key) is not None])
            }
    return out


def met(name: str, value: float) -> bool:
    comparison, bound = GOALS[name]
    return value >= bound if comparison == ">=" else value <= bound


def summarise(rounds: Sequence[Round]) -> dict[str, Any]:
    per_round = [ratios(round_) for round_ in rounds]
    median_ratios = {key: statistics.median(r[key] for r in per_round) for key in per_round[0]}
    return {
        "medians": medians(rounds),
        "ratios_per_round": per_round,
        "ratios": median_ratios,
        "goals": {name: {"goal": f"{comparison} {bound}", "value": median_ratios[name],
                         "met": met(name, median_ratios[name])}
                  for name, (comparison, bound) in GOALS.items()},
    }


def _buckets(metrics: str) -> list[tuple[float, int]]:
    return [(float("inf") if le == "+Inf" else float(le), int(n)) for le, n in re.findall(
        r'turnout_edge_redirect_seconds_bucket\{le="([^"]+)"\} (\d+)', metrics)]


def server_p99_ms(metrics: str, before: str = "") -> float | None:
    """The upper bound (ms) of the handler-time bucket holding the 99th percentile of the
    requests counted between two scrapes of the edge's /metrics (`before` empty: all)."""
    earlier = dict(_buckets(before))
    buckets = [(le, n - earlier.get(le, 0)) for le, n in _buckets(metrics)]
    if not buckets or buckets[-1][1] <= 0:
        return None
    total = buckets[-1][1]
    return next(le * 1000 for le, n in buckets if n >= 0.99 * total)


def clicks_sent(metrics: str) -> int:
    sent = re.search(r'turnout_sink_sent_total\{topic="turnout.clicks"\} (\d+)', metrics)
    return int(sent.group(1)) if sent else 0
