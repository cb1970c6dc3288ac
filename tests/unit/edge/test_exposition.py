"""Adding the workers' samples up: counters summed over every slot, gauges over live ones."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from turnout.edge import exposition
from turnout.edge.exposition import COUNTER, GAUGE, REQUESTS, Family, Slot
from turnout.edge.metrics import Metrics

FAMILIES = {
    REQUESTS: Family(COUNTER, "requests"),
    "turnout_edge_graph_version": Family(GAUGE, "version"),
    "turnout_edge_graph_swaps_total": Family(COUNTER, "swaps"),
    "turnout_edge_odd_gauge": Family(GAUGE, "no rule says how it adds up"),
    **exposition.WORKER_FAMILIES,
}
request_keys = st.sampled_from([f'{{route="{route}",status="{status}"}}'
                                for route in ("c", "click", "postback")
                                for status in (302, 400, 404, 500)])
samples = st.fixed_dictionaries({
    REQUESTS: st.dictionaries(request_keys, st.integers(0, 10**12), max_size=6),
    "turnout_edge_graph_version": st.fixed_dictionaries({"": st.integers(1, 50)}),
    "turnout_edge_graph_swaps_total": st.fixed_dictionaries({"": st.integers(0, 99)}),
    "turnout_edge_odd_gauge": st.fixed_dictionaries({"": st.integers(0, 9)}),
    # a section's lines: kinds by name, rules by ACROSS_WORKERS
    "turnout_sink_buffer_depth": st.fixed_dictionaries({"": st.integers(0, 9999)}),
    "turnout_sink_spool_bytes": st.fixed_dictionaries({"": st.integers(0, 10**9)}),
    "turnout_sink_sent_total": st.dictionaries(
        st.sampled_from(['{topic="turnout.clicks"}', '{topic="turnout.conversions"}']),
        st.integers(0, 10**9)),
})
slot_lists = st.lists(st.tuples(st.booleans(), samples), min_size=1, max_size=6).map(
    lambda found: [Slot(index, live, sample) for index, (live, sample) in enumerate(found)])


@given(slot_lists)
@settings(max_examples=200)
def test_counters_are_the_sum_of_every_slot_dead_ones_included(slots):
    total = exposition.combined(slots, FAMILIES)
    for name in (REQUESTS, "turnout_edge_graph_swaps_total", "turnout_sink_sent_total"):
        keys = {key for slot in slots for key in slot.sample[name]}
        assert total[name] == {key: sum(slot.sample[name].get(key, 0) for slot in slots)
                               for key in keys}
    assert total["turnout_edge_worker_requests_total"] == {
        f'{{worker="{slot.index}"}}': sum(slot.sample[REQUESTS].values()) for slot in slots}
    assert total["turnout_edge_worker_up"] == {
        f'{{worker="{slot.index}"}}': int(slot.live) for slot in slots}


@given(slot_lists)
@settings(max_examples=200)
def test_gauges_combine_over_live_slots_as_their_rule_says(slots):
    total = exposition.combined(slots, FAMILIES)
    live = [slot.sample for slot in slots if slot.live]
    if not live:
        for name in ("turnout_edge_graph_version", "turnout_sink_buffer_depth",
                     "turnout_sink_spool_bytes", "turnout_edge_odd_gauge"):
            assert name not in total or total[name] == {}
        return
    assert total["turnout_edge_graph_version"] == {
        "": min(s["turnout_edge_graph_version"][""] for s in live)}
    assert total["turnout_sink_buffer_depth"] == {
        "": sum(s["turnout_sink_buffer_depth"][""] for s in live)}
    assert total["turnout_sink_spool_bytes"] == {
        "": max(s["turnout_sink_spool_bytes"][""] for s in live)}
    assert total["turnout_edge_odd_gauge"] == {
        f'{{worker="{slot.index}"}}': slot.sample["turnout_edge_odd_gauge"][""]
        for slot in slots if slot.live}


@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 1000), st.booleans()),
                max_size=40))
def test_growing_slots_never_make_a_counter_go_down(steps):
    """Each step: a worker counts more in slot `i`, or dies (its slot stays, not live), or a
    successor takes the slot over and carries its counts on."""
    slots = {i: Slot(i, True, {REQUESTS: {'{route="c",status="302"}': 0}}) for i in range(4)}
    previous = 0
    for index, more, replaced in steps:
        slot = slots[index]
        if replaced:
            carried = exposition.counted(slot.sample, FAMILIES)
            own = {REQUESTS: {'{route="c",status="302"}': more},
                   "turnout_edge_graph_version": {"": 1}}
            slots[index] = Slot(index, True, exposition.added(carried, own))
        else:
            slots[index] = Slot(index, more % 2 == 0,
                                exposition.added(slot.sample, {REQUESTS: {
                                    '{route="c",status="302"}': more}}))
        now = sum(exposition.combined(slots.values(), FAMILIES)[REQUESTS].values())
        assert now >= previous
        previous = now


def test_a_successor_carries_counters_on_and_drops_gauges():
    dead = {REQUESTS: {'{route="c",status="302"}': 7},
            "turnout_edge_graph_version": {"": 4}, "turnout_sink_sent_total": {"": 3},
            "turnout_edge_redirect_seconds": {"_count": 7, "_sum": 0.5}}
    carried = exposition.counted(dead, {**FAMILIES, **Metrics().families()})
    assert "turnout_edge_graph_version" not in carried
    own = {REQUESTS: {'{route="c",status="302"}': 1, '{route="c",status="404"}': 2},
           "turnout_edge_graph_version": {"": 5}, "turnout_edge_redirect_seconds":
           {"_count": 3, "_sum": 0.25}}
    assert exposition.added(carried, own) == {
        REQUESTS: {'{route="c",status="302"}': 8, '{route="c",status="404"}': 2},
        "turnout_sink_sent_total": {"": 3},
        "turnout_edge_graph_version": {"": 5},
        "turnout_edge_redirect_seconds": {"_count": 10, "_sum": 0.75},
    }


def test_one_worker_renders_as_before():
    metrics = Metrics()
    route = metrics.route("c")
    route.count(302)
    route.count(302)
    route.count(404)
    metrics.redirect_latency.observe_ns(300_000)
    metrics.gauge("turnout_edge_graph_version", "Graph version being served.", lambda: 5)
    metrics.gauge("turnout_edge_broken", "Raises.", lambda: 1 // 0)
    metrics.sections.append(lambda: 'turnout_sink_buffer_depth 3\n'
                                    'turnout_sink_sent_total{topic="turnout.clicks"} 9\n')
    assert metrics.render() == "\n".join([
        "# HELP turnout_edge_requests_total HTTP requests answered, by route and status.",
        "# TYPE turnout_edge_requests_total counter",
        'turnout_edge_requests_total{route="c",status="302"} 2',
        'turnout_edge_requests_total{route="c",status="404"} 1',
        "# HELP turnout_edge_redirect_seconds Time to answer GET /c/{code}, in seconds.",
        "# TYPE turnout_edge_redirect_seconds histogram",
        'turnout_edge_redirect_seconds_bucket{le="0.0001"} 0',
        'turnout_edge_redirect_seconds_bucket{le="0.00025"} 0',
        'turnout_edge_redirect_seconds_bucket{le="0.0005"} 1',
        'turnout_edge_redirect_seconds_bucket{le="0.001"} 1',
        'turnout_edge_redirect_seconds_bucket{le="0.0025"} 1',
        'turnout_edge_redirect_seconds_bucket{le="0.005"} 1',
        'turnout_edge_redirect_seconds_bucket{le="0.01"} 1',
        'turnout_edge_redirect_seconds_bucket{le="0.025"} 1',
        'turnout_edge_redirect_seconds_bucket{le="0.1"} 1',
        'turnout_edge_redirect_seconds_bucket{le="1.0"} 1',
        'turnout_edge_redirect_seconds_bucket{le="+Inf"} 1',
        "turnout_edge_redirect_seconds_sum 0.0003",
        "turnout_edge_redirect_seconds_count 1",
        "# HELP turnout_edge_graph_version Graph version being served.",
        "# TYPE turnout_edge_graph_version gauge",
        "turnout_edge_graph_version 5",
        "# TYPE turnout_sink_buffer_depth gauge",
        "turnout_sink_buffer_depth 3",
        "# TYPE turnout_sink_sent_total counter",
        'turnout_sink_sent_total{topic="turnout.clicks"} 9',
    ]) + "\n"


@given(samples)
def test_parse_reads_back_what_render_writes(sample):
    assert exposition.parse(exposition.render(sample, FAMILIES)) == {
        name: series for name, series in sample.items() if series}


@pytest.mark.parametrize("text", ["turnout_x", "turnout_x 1 2", "1abc 4", 'turnout_x{a="b" 1',
                                  "turnout_x one"])
def test_parse_refuses_what_is_not_a_sample_line(text):
    with pytest.raises(ValueError):
        exposition.parse(text)


def test_a_section_that_fails_gives_its_last_values():
    answers = iter(["turnout_sink_sent_total 4\n", None, "turnout_sink_sent_total 6\n"])

    def flaky() -> str:
        answer = next(answers)
        if answer is None:
            raise OSError("spool directory gone")
        return answer

    metrics = Metrics()
    metrics.sections.append(flaky)
    assert [metrics.sample()["turnout_sink_sent_total"] for _ in range(3)] == [
        {"": 4}, {"": 4}, {"": 6}]
