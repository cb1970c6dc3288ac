"""benchmarks.soak's pure parts: percentiles, windows, fault figures, lost/duplicated
arithmetic and the report."""

from __future__ import annotations

import argparse
import json
import math
import os

from hypothesis import given
from hypothesis import strategies as st

from benchmarks.soak import _result, format_report
from benchmarks.soak_check import tally
from benchmarks.soak_figures import (
    fault_figures,
    percentile,
    rss_kib,
    rss_summary,
    window,
    windows,
)
from benchmarks.soak_load import Ledger, Request


@given(st.lists(st.floats(min_value=0, max_value=1e6), min_size=1),
       st.floats(min_value=0, max_value=100))
def test_a_percentile_is_a_value_with_enough_below_it(values: list[float], q: float) -> None:
    p = percentile(values, q)
    assert p in values
    assert sum(v <= p for v in values) >= math.ceil(q / 100 * len(values))
    assert sum(v < p for v in values) < max(1, math.ceil(q / 100 * len(values)))


def test_percentiles_by_nearest_rank() -> None:
    values = list(range(1, 101))
    assert (percentile(values, 50), percentile(values, 99), percentile(values, 100)) \
        == (50, 99, 100)
    assert percentile([], 99) == 0.0
    assert percentile([7.0], 0) == 7.0


def test_lost_duplicated_and_unexpected() -> None:
    counts = tally(["a", "b", "c"], {"a": 1, "b": 3, "x": 1})
    assert (counts.ledger, counts.stored, counts.distinct) == (3, 5, 3)
    assert (counts.lost, counts.duplicated, counts.unexpected) == (1, 2, 1)
    assert not counts.clean
    assert tally([("k", "t")], {("k", "t"): 1}).clean


@given(st.sets(st.integers(0, 50)), st.dictionaries(st.integers(0, 60), st.integers(1, 4)))
def test_every_accepted_id_is_stored_or_lost(ledger: set[int], stored: dict[int, int]) -> None:
    counts = tally(ledger, stored)
    assert counts.ledger - counts.lost + counts.unexpected == counts.distinct
    assert counts.stored - counts.duplicated == counts.distinct


REQUESTS = [Request(0.5, 2.0, "accepted"), Request(1.2, 4.0, "accepted"),
            Request(1.5, 0.3, "refused"), Request(2.5, 0.2, "refused"),
            Request(3.1, 80.0, "accepted"), Request(3.6, 10_000.0, "error")]


def test_windows_split_the_clicks_by_when_they_were_sent() -> None:
    first, second = windows(REQUESTS, 4.0, 2.0)
    assert (first.accepted, first.refused, first.errors, first.rate) == (2, 1, 0, 1.0)
    assert (second.accepted, second.refused, second.errors) == (1, 1, 1)
    assert second.p99_ms == 80.0  # of the accepted ones only
    assert window([], 0, 0).rate == 0.0


def test_a_fault_counts_what_the_clients_saw_until_the_next() -> None:
    figures = fault_figures(REQUESTS, "edge_restart", 1.0, 2.0, 3.0)
    assert (figures.refused, figures.errors) == (2, 0)
    assert figures.disturbed_s == 1.5
    assert fault_figures(REQUESTS, "tansu_pause", 3.0, 3.5, 3.5).disturbed_s == 0.0


def test_rss_of_this_process_and_of_none() -> None:
    assert rss_kib(os.getpid()) > 1000
    assert rss_kib(2**22 + 1) == 0


def test_rss_summary_per_process_across_restarts() -> None:
    samples = [{"t_s": 0, "edge": 90.0, "ingest-api": 400.0}, {"t_s": 60, "edge": 95.0},
               {"t_s": 120, "edge": 91.0, "ingest-api": 380.0}]
    assert rss_summary(samples) == {"edge": {"start": 90.0, "end": 91.0, "max": 95.0},
                                    "ingest-api": {"start": 400.0, "end": 380.0,
                                                   "max": 400.0}}
    assert rss_summary([]) == {}


def result(lost: bool) -> dict:
    args = argparse.Namespace(minutes=4 / 60, rate=1.5, postback_share=0.2,
                              faults="edge_restart@1", interval=2.0)
    ledger = Ledger(clicks={"a", "b", "c"}, conversions={("a", "t")},
                    requests=REQUESTS, postback_refusals=2)
    stored = {"a": 1, "b": 1} if lost else {"a": 1, "b": 1, "c": 1}
    samples = [{"t_s": 0.0, "edge": 90.0, "ingest-api": 400.0},
               {"t_s": 4.0, "edge": 91.0, "ingest-api": 410.0}]
    return _result(args, 4.0, 4.1, ledger, tally(ledger.clicks, stored),
                   tally(ledger.conversions, {("a", "t"): 1}), samples,
                   [("edge_restart", 1.0, 2.0)])


def test_the_result_is_json_and_the_report_says_what_happened() -> None:
    good = json.loads(json.dumps(result(lost=False)))
    assert good["ok"] and good["clicks"]["refused"] == 2 and good["clicks"]["errors"] == 1
    assert good["latency_ms"] == {"p50": 4.0, "p99": 80.0, "max": 80.0}
    assert good["throughput_per_s"] == 0.75
    assert [f["name"] for f in good["faults"]] == ["edge_restart"]
    assert good["faults"][0]["refused"] == 2  # until the end: it is the last fault
    text = format_report(good)
    assert "lost 0  duplicated 0  refused 2" in text
    assert "edge 91  ingest-api 410" in text and text.endswith("nothing duplicated")
    assert "edge 90 -> 91 (91)  ingest-api 400 -> 410 (410)" in text
    assert good["rss_summary_mb"]["edge"] == {"start": 90.0, "end": 91.0, "max": 91.0}

    bad = result(lost=True)
    assert not bad["ok"] and bad["clicks"]["lost"] == 1
    assert format_report(bad).endswith("FAILED: lost or duplicated events")
