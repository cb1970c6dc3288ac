"""benchmarks.edge's pure parts: wrk's summary line, the paced rate, ratios and medians."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from benchmarks import wrk
from benchmarks.edge_figures import (
    GOALS,
    clicks_sent,
    medians,
    paced_rate,
    ratios,
    server_p99_ms,
    summarise,
)

LINE = {"requests": 50_000, "duration_us": 5_000_000, "p50_us": 412, "p90_us": 800,
        "p99_us": 2_300, "p999_us": 9_100, "max_us": 15_000, "mean_us": 520.5,
        "status_errors": 3, "socket_errors": 1, "timeouts": 0, "late_sends": 7,
        "max_lag_us": 4_200}


def wrk_output(line: dict[str, float]) -> str:
    return ("Running 5s test @ http://127.0.0.1:1\n  1 threads and 64 connections\n"
            "Requests/sec:  10000.00\n" + wrk.MARK + json.dumps(line) + "\n")


def test_parse_reads_the_summary_line_in_ms():
    figures = wrk.parse(wrk_output(LINE))
    assert figures["rps"] == 10_000
    assert (figures["p50_ms"], figures["p99_ms"], figures["p999_ms"]) == (0.412, 2.3, 9.1)
    assert figures["max_ms"] == 15 and figures["max_lag_ms"] == 4.2
    assert (figures["bad_responses"], figures["socket_errors"], figures["late_sends"]) == (3, 1, 7)


def test_parse_without_the_line_is_an_error():
    with pytest.raises(ValueError, match="turnout-wrk"):
        wrk.parse("Running 5s test\nRequests/sec: 1.0\n")


def test_paced_runs_use_the_paced_script_and_pass_the_rate():
    closed = wrk.argv("http://h:1", "/c/X", 10, 64)
    paced = wrk.argv("http://h:1", "/c/X", 10, 64, 9000.0)
    assert str(wrk.CLOSED_LUA) in closed and str(wrk.PACED_LUA) in paced
    assert closed[-1] == "/c/X" and paced[-2:] == ["/c/X", "9000.0"]
    assert "-t1" in paced  # the Lua schedule is per thread: one thread offers the rate


def test_the_paced_script_loads_the_same_ring():
    assert 'dofile(folder .. "edge.lua")' in wrk.PACED_LUA.read_text()
    assert "function delay()" not in wrk.CLOSED_LUA.read_text()


@given(st.floats(min_value=1, max_value=1e6))
def test_paced_rate_defaults_to_half_of_bare(rps):
    assert paced_rate(rps, None) == rps / 2
    assert paced_rate(rps, 1234.0) == 1234.0


def test_paced_rate_must_be_positive():
    with pytest.raises(ValueError):
        paced_rate(10_000, 0)


def figures(rps: float, p50: float, p99: float, cpu: float = 50.0) -> dict[str, float]:
    return {"rps": rps, "p50_ms": p50, "p99_ms": p99, "p999_ms": p99 * 2, "cpu_us": cpu}


def a_round(edge_rps: float, edge_p50: float, edge_p99: float) -> dict:
    return {"closed": {"bare": figures(20_000, 3, 6, 30), "edge": figures(edge_rps, 4, 9, 45)},
            "paced": {"bare": figures(10_000, 0.5, 2), "edge": figures(10_000, edge_p50,
                                                                       edge_p99)}}


def test_ratios_compare_edge_with_bare_in_one_round():
    r = ratios(a_round(14_000, 0.9, 3.5))
    assert r["closed_rate_edge_vs_bare"] == pytest.approx(0.7)
    assert r["closed_cpu_bare_vs_edge"] == pytest.approx(30 / 45)
    assert r["paced_p50_edge_minus_bare_ms"] == pytest.approx(0.4)
    assert r["paced_p99_edge_vs_bare"] == pytest.approx(1.75)
    assert "closed_rate_bare_vs_nginx" not in r


def test_summary_takes_medians_of_per_round_ratios_and_judges_the_goals():
    rounds = [a_round(14_000, 0.9, 3.5), a_round(12_000, 0.6, 2.6), a_round(8_000, 2.0, 9.0)]
    summary = summarise(rounds)
    assert summary["ratios"]["closed_rate_edge_vs_bare"] == pytest.approx(0.6)
    assert summary["ratios"]["paced_p99_edge_vs_bare"] == pytest.approx(1.75)
    goals = summary["goals"]
    assert set(goals) == set(GOALS)
    assert not goals["closed_rate_edge_vs_bare"]["met"]
    assert goals["paced_p50_edge_minus_bare_ms"]["met"]  # +0.4 ms is the median
    assert not goals["paced_p99_edge_vs_bare"]["met"]
    assert summary["medians"]["paced"]["edge"]["p99_ms"] == 3.5


def test_medians_skip_figures_a_target_does_not_have():
    rounds = [a_round(14_000, 0.9, 3.5)]
    rounds[0]["closed"]["edge"]["server_p99_ms"] = None
    table = medians(rounds)
    assert "server_p99_ms" not in table["closed"]["edge"]
    assert table["closed"]["bare"]["rps"] == 20_000


def metrics(buckets: list[int], sent: int) -> str:
    bounds = ["0.0001", "0.00025", "0.0005", "0.001", "+Inf"]
    lines = [f'turnout_edge_redirect_seconds_bucket{{le="{le}"}} {n}'
             for le, n in zip(bounds, buckets, strict=True)]
    return "\n".join([*lines, f'turnout_sink_sent_total{{topic="turnout.clicks"}} {sent}'])


def test_server_p99_counts_only_the_requests_between_two_scrapes():
    before = metrics([0, 0, 0, 1000, 1000], 5)  # a slow warm-up
    after = metrics([980, 1000, 1000, 2000, 2000], 2005)
    assert server_p99_ms(before) == 1.0
    assert server_p99_ms(after, before) == 0.25
    assert server_p99_ms(before, before) is None
    assert clicks_sent(after) - clicks_sent(before) == 2000


def test_a_baseline_edge_gets_the_same_ratios_suffixed():
    round_ = a_round(14_000, 0.9, 3.5)
    round_["closed"]["edge_base"] = figures(10_000, 5, 12, 60)
    round_["paced"]["edge_base"] = figures(10_000, 1.5, 6)
    r = ratios(round_)
    assert r["closed_rate_edge_vs_bare"] == pytest.approx(0.7)
    assert r["closed_rate_edge_vs_bare@base"] == pytest.approx(0.5)
    assert r["paced_p99_edge_vs_bare@base"] == pytest.approx(3.0)
    assert r["closed_cpu_edge_vs_base"] == pytest.approx(45 / 60)
    assert set(summarise([round_])["goals"]) == set(GOALS)


def test_the_interpreted_baseline_is_this_tree_running_its_sources():
    from argparse import Namespace

    from benchmarks.edge import INTERPRETED, edge_targets
    from turnout.compiled import CompiledSettings

    assert CompiledSettings.from_env({INTERPRETED: "1"}).interpreted
    plain = Namespace(profile=None, baseline=None, interpreted_baseline=False)
    assert edge_targets(plain) == [("edge", wrk.ROOT, {})]
    source = Namespace(profile=None, baseline=None, interpreted_baseline=True)
    assert edge_targets(source) == [("edge", wrk.ROOT, {}),
                                    ("edge_base", wrk.ROOT, {INTERPRETED: "1"})]
    profiled = Namespace(profile="p.raw", baseline=wrk.ROOT / "other", interpreted_baseline=False)
    assert edge_targets(profiled) == [("edge", wrk.ROOT, {INTERPRETED: "1"}),
                                      ("edge_base", wrk.ROOT / "other", {})]
