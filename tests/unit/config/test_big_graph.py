"""benchmarks.big_graph: the generated graph is one the real path accepts."""

from __future__ import annotations

from collections import Counter

from benchmarks.big_graph import CONDITIONS, DESTINATIONS, RULES, generate, main
from turnout.config.compile import compile_graph
from turnout.config.io import dump_graph, load_graph
from turnout.config.validate import validate


def test_small_graph_validates_and_compiles(tmp_path):
    out = tmp_path / "big.yaml"
    assert main(["--campaigns", "50", "--out", str(out), "--seed", "7"]) == 0
    graph = load_graph(out)
    assert validate(graph) == []
    compiled = compile_graph(graph, version=1)
    assert len(compiled.campaigns_by_code) == 50
    for campaign in graph.campaigns:
        assert len(campaign.rules) == RULES and len(campaign.default) == DESTINATIONS
        for rule in campaign.rules:
            assert len(rule.conditions) == CONDITIONS
            assert len(rule.destinations) == DESTINATIONS


def test_shape_is_realistic_and_deterministic():
    graph = generate(300, seed=3)
    assert graph == generate(300, seed=3) and graph != generate(300, seed=4)
    assert len(graph.workspaces) == 12 and 250 <= len(graph.offers) <= 400
    assert 100 <= len(graph.landers) <= 300
    # Offers are shared: many campaigns point at the same ones.
    refs = Counter(d.ref for c in graph.campaigns for r in c.rules for d in r.destinations
                   if d.kind == "offer")
    assert refs.most_common(1)[0][1] > 10
    kinds = Counter(k.kind for c in graph.campaigns for r in c.rules for k in r.conditions)
    assert {"country", "device", "language", "hour"} <= set(kinds)
    assert len({c.workspace for c in graph.campaigns}) > 6


def test_json_output_is_the_same_graph(tmp_path):
    out = tmp_path / "big.json"
    main(["--campaigns", "20", "--out", str(out), "--format", "json"])
    assert load_graph(out) == load_graph(dump_graph(generate(20), "yaml"), "yaml")
