"""The fast YAML reader against the reference loader: same graph, same problems, same errors."""

from __future__ import annotations

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from turnout.config import yaml_reader
from turnout.config.decode import graph_from_builtins
from turnout.config.errors import GraphInvalid
from turnout.config.yaml_reader import load_yaml, reference_load

from .test_io import _GRAPHS, _TRICKY


def _outcome(load, text):
    """What loading gives: the graph, the problems, or the YAML error's text."""
    try:
        return ("graph", load(text))
    except GraphInvalid as exc:
        return ("problems", [str(p) for p in exc.problems])
    except yaml.YAMLError as exc:
        return ("yaml error", str(exc))
    except TypeError as exc:  # a collection as a mapping key: the reference loader's crash
        return ("crash", str(exc))


def _reference(text):
    data = reference_load(text)
    return graph_from_builtins({} if data is None else data)


_W = "workspaces:\n  - {id: w, name: W}\n"
# Read by the fast path itself.
HANDLED = [
    "",
    "# only a comment\n",
    "---\n",
    "---\nworkspaces: []\n...\n",
    "workspaces:\n",
    "workspaces: ~\nfunnels: null\n",
    _W,
    "workspaces: [{id: w, name: W, raw_ip: true}, {id: v, name: V, raw_ip: False}]",
    "workspaces: [{id: w, name: W, raw_ip: yes}]",  # yes is text here: a type problem
    "workspaces: [{id: 010, name: W}]",  # YAML 1.1 octal: an int
    "offers: [{id: o, workspace: w, name: O, url: u, network: n, payout: 12.50}]",
    "offers: [{id: o, workspace: w, name: O, url: u, network: n, payout: 1e3}]",
    "offers: [{id: o, workspace: w, name: O, url: u, network: n, daily_cap: 0x1F}]",
    "offers: [{id: o, workspace: w, name: O, url: u, network: n, daily_cap: 1:30}]",
    "offers: [{id: o, workspace: w, name: O, url: u, network: n, daily_cap: 1_000}]",
    "offers: [{id: o, workspace: w, name: O, url: u, network: n, daily_cap: +7}]",
    "networks: [{id: n, workspace: w, name: N, secret: s, statuses: {1: approved}}]",
    "networks: [{id: n, workspace: w, name: N, secret: s, statuses: {'1': approved}}]",
    "campaigns: [{id: c, workspace: w, name: C, code: C, traffic_source: t,\n"
    "  schedule: {start: 2025-06-01T00:00:00}, redirect_mode: 302}]",
    "landers:\n  - id: l\n    workspace: w\n    name: |\n      multi\n      line\n"
    "    url: >-\n      folded\n      text\n",
    # Anchors and aliases, including an anchored scalar and an alias as an item.
    "landers:\n  - &l {id: l, workspace: w, name: L, url: u}\n  - *l\n",
    "workspaces:\n  - {id: &i w, name: *i}\n",
    "x-defaults: &d {workspace: w}\nsurprise: *d\n",
    "- a list",
    "just text",
    "workspaces: {}\nfunnels: 3\nsurprise: [1, 2]\n7: x\nnull: y\n",
    "workspaces: [[1, 2], 3, {id: w}]",
]
# Left to the reference loader, which must give the same outcome as ever.
DELEGATED = [
    "workspaces: []\nworkspaces: []\n",  # duplicate key
    "workspaces: [{id: w, id: v, name: W}]",
    "workspaces: [{id: !!str 1, name: W}]",  # explicit tag
    "workspaces: !!seq []",
    "workspaces: [!custom {id: w}]",
    "base: &b {id: w, name: W}\nworkspaces: [{<<: *b, raw_ip: true}]\n",  # merge key
    "workspaces: [*nothing]",  # undefined alias
    "workspaces: &a [*a]",  # recursive
    "a: &x 1\nb: &x 2\n",  # duplicate anchor
    "workspaces: &s [{id: w, name: W}]\n",  # anchored section
    "? [complex, key]\n: value\n",  # the reference loader raises TypeError: so does this
    "workspaces: [\n",  # syntax error
    "workspaces: []\n---\nworkspaces: []\n",  # two documents
    "workspaces: [{id: =, name: W}]",
    "\tworkspaces: []",
]


@pytest.mark.parametrize("text", HANDLED + DELEGATED)
def test_same_outcome_as_the_reference_loader(text):
    assert _outcome(load_yaml, text) == _outcome(_reference, text)


@pytest.mark.parametrize("text", HANDLED)
def test_common_yaml_is_read_without_the_reference_loader(text, monkeypatch):
    monkeypatch.setattr(yaml_reader, "reference_load", lambda text: pytest.fail("delegated"))
    _outcome(load_yaml, text)


@pytest.mark.parametrize("text", DELEGATED)
def test_unusual_yaml_is_delegated(text, monkeypatch):
    calls = []
    real = yaml_reader.reference_load
    monkeypatch.setattr(yaml_reader, "reference_load", lambda t: calls.append(t) or real(t))
    _outcome(load_yaml, text)
    assert calls == [text]


def test_anchored_scalars_and_collections_are_shared_values():
    graph = load_yaml("landers:\n  - &l {id: l, workspace: w, name: &n N, url: u}\n"
                      "  - *l\nfunnels: [{id: f, workspace: w, name: *n, landers: [l],"
                      " offers: []}]\n")
    assert graph.landers[0] == graph.landers[1] and graph.funnels[0].name == "N"


_STYLES = st.sampled_from([
    {"default_flow_style": False},
    {"default_flow_style": True},
    {"default_flow_style": None},
    {"default_style": '"'},
    {"default_style": "'"},
    {"default_flow_style": True, "width": 20},
    {"canonical": True},
])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_GRAPHS, _STYLES)
def test_any_graph_in_any_style_reads_as_the_reference_does(graph, style):
    import msgspec

    text = yaml.safe_dump(msgspec.to_builtins(graph), sort_keys=False, allow_unicode=True,
                          **style)
    assert _outcome(load_yaml, text) == _outcome(_reference, text)


_LEAF = st.one_of(_TRICKY, st.integers(), st.booleans(), st.none(), st.floats())
_TREES = st.recursive(
    _LEAF,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_TRICKY, inner, max_size=3),
    max_leaves=12,
)
_SECTION_NAMES = st.sampled_from(["workspaces", "offers", "campaigns", "funnels", "surprise"])


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(_SECTION_NAMES, _TREES, max_size=3) | _TREES, _STYLES)
def test_any_document_gives_the_reference_problems(document, style):
    text = yaml.safe_dump(document, sort_keys=False, allow_unicode=True, **style)
    assert _outcome(load_yaml, text) == _outcome(_reference, text)


@pytest.mark.parametrize("text", HANDLED + DELEGATED)
def test_same_outcome_without_libyaml(text, monkeypatch):
    # A PyYAML built without libyaml has only the pure-Python parser: same events.
    monkeypatch.setattr(yaml_reader, "_Parser", yaml.SafeLoader)
    assert _outcome(load_yaml, text) == _outcome(_reference, text)
