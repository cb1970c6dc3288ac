from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from turnout.config.errors import GraphInvalid, Problem
from turnout.config.io import dump_graph, load_graph
from turnout.config.model import (
    BotPolicy,
    Campaign,
    Condition,
    CostModel,
    Destination,
    Funnel,
    Graph,
    Lander,
    Network,
    Offer,
    Rule,
    Schedule,
    TrafficSource,
    Workspace,
)

EXAMPLE = Path(__file__).parents[3] / "config" / "examples" / "graph.yaml"


def _problems(text: str, fmt: str | None = None) -> list[str]:
    with pytest.raises(GraphInvalid) as info:
        load_graph(text, fmt)  # type: ignore[arg-type]
    return [str(p) for p in info.value.problems]


@pytest.mark.parametrize("fmt", ["yaml", "json"])
def test_example_round_trips_exactly(fmt):
    graph = load_graph(EXAMPLE)
    assert graph.campaigns and graph.offers
    assert load_graph(dump_graph(graph, fmt), fmt) == graph


def test_load_accepts_path_text_and_format_guess(tmp_path):
    graph = load_graph(EXAMPLE)
    json_file = tmp_path / "g.json"
    json_file.write_text(dump_graph(graph, "json"))
    assert load_graph(json_file) == graph
    assert load_graph(str(json_file)) == graph
    assert load_graph(dump_graph(graph, "json")) == graph  # text starting with "{"
    assert load_graph(EXAMPLE.read_text()) == graph


def test_yaml_scalars_keep_their_meaning():
    graph = load_graph(
        """
workspaces: [{id: w, name: W}]
offers:
  - {id: o, workspace: w, name: O, url: "https://x.example.com/", network: n, payout: 12.50}
campaigns:
  - id: c
    workspace: w
    name: C
    code: C1
    traffic_source: t
    redirect_mode: 302
    schedule: {start: 2025-06-01T00:00:00}
    rules:
      - id: r
        conditions:
          - {kind: country, values: [NO, "yes", 7]}
          - {kind: bot, values: [true]}
    default: []
"""
    )
    assert graph.offers[0].payout == "12.50"  # float text kept, trailing zero included
    campaign = graph.campaigns[0]
    assert campaign.redirect_mode == 302
    assert campaign.schedule.start == "2025-06-01T00:00:00"  # not a datetime
    assert campaign.rules[0].conditions[0].values == ("NO", "yes", 7)  # Norway stays Norway
    assert campaign.rules[0].conditions[1].values == (True,)


def test_unknown_field_has_its_path():
    text = "workspaces: [{id: w, name: W, colour: red}]"
    assert _problems(text) == ["workspaces[0].colour: unknown field"]


def test_missing_required_field_has_its_path():
    text = "landers: [{id: l, workspace: w, url: 'https://x.example.com/'}]"
    assert _problems(text) == ["landers[0].name: required"]


def test_wrong_type_deep_in_a_campaign():
    text = """
campaigns:
  - {id: c, workspace: w, name: C, code: C, traffic_source: t,
     rules: [{id: r}, {id: s, destinations: [{id: d, kind: url, weight: heavy}]}]}
"""
    assert _problems(text) == [
        "campaigns[0].rules[1].destinations[0].weight: Expected `int`, got `str`"
    ]


def test_money_as_a_number_gets_a_hint():
    text = '{"offers": [{"id": "o", "workspace": "w", "name": "O", "url": "u", "network": "n",' \
           ' "payout": 12.5}]}'
    [problem] = _problems(text)
    assert problem.startswith("offers[0].payout: Expected `str`, got `float`")
    assert '"12.50"' in problem


def test_every_broken_entity_is_reported():
    text = """
workspaces: [{id: w, name: W, extra: 1}]
offers: [{id: o}]
funnels: {}
surprise: []
"""
    assert _problems(text) == [
        "workspaces[0].extra: unknown field",
        "offers[0].workspace: required",
        "funnels: must be a list",
        "surprise: unknown section",
    ]


def test_syntax_errors_and_duplicate_keys():
    [problem] = _problems("workspaces: [", "yaml")
    assert problem.startswith("invalid YAML")
    [problem] = _problems("workspaces: []\nworkspaces: []\n", "yaml")
    assert "duplicate key 'workspaces'" in problem
    [problem] = _problems("{", "json")
    assert problem.startswith("invalid JSON")
    assert _problems("- a list", "yaml") == ["the graph must be a mapping of sections"]


def test_empty_document_is_an_empty_graph():
    assert load_graph("", "yaml") == Graph()
    assert load_graph("workspaces:\n", "yaml") == Graph()


def test_problem_str():
    assert str(Problem("a.b", "bad")) == "a.b: bad"
    assert str(Problem("", "bad")) == "bad"


# Strings YAML likes to reinterpret; every one must come back as the same string.
_TRICKY = st.one_of(
    st.text(max_size=12),
    st.sampled_from(
        ["NO", "no", "yes", "on", "off", "null", "~", "true", "12.50", "1e3", ".inf", "0x10",
         "012", "1_000", "2025-06-01", "2025-06-01T00:00:00", "302", "- x", "a: b", "#c",
         "'q'", '"d"', "{x}", "[y]", "&a", "*a", "!tag", "|", ">", "%", "@", "`", " lead",
         "trail ", "multi\nline", "tab\there", "ü✓", "\x85", "\u2028"]
    ),
)
_IDS = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789_-", min_size=1, max_size=10)
_OPT = st.none() | _TRICKY
_INTS = st.integers(min_value=-(2**40), max_value=2**40)


def _destination() -> st.SearchStrategy[Destination]:
    return st.builds(Destination, id=_IDS, weight=_INTS, kind=_TRICKY, ref=_OPT, url=_OPT,
                     offers=st.tuples(_TRICKY), paused=st.booleans())


_GRAPHS = st.builds(
    Graph,
    workspaces=st.lists(st.builds(Workspace, id=_IDS, name=_TRICKY, timezone=_TRICKY,
                                  currency=_TRICKY, raw_ip=st.booleans(), fallback_url=_OPT,
                                  bot_ip_ranges=st.lists(_TRICKY, max_size=2).map(tuple)),
                        max_size=2).map(tuple),
    traffic_sources=st.lists(st.builds(TrafficSource, id=_IDS, workspace=_IDS, name=_TRICKY,
                                       tokens=st.dictionaries(_TRICKY, _TRICKY, max_size=3),
                                       postback_url=_OPT,
                                       postback_statuses=st.lists(_TRICKY, max_size=2).map(tuple),
                                       payout_percent=_TRICKY, postback_percent=_TRICKY),
                             max_size=2).map(tuple),
    networks=st.lists(st.builds(Network, id=_IDS, workspace=_IDS, name=_TRICKY, secret=_TRICKY,
                                hmac_key=_OPT,
                                statuses=st.dictionaries(_TRICKY, _TRICKY, max_size=3)),
                      max_size=2).map(tuple),
    offers=st.lists(st.builds(Offer, id=_IDS, workspace=_IDS, name=_TRICKY, url=_TRICKY,
                              network=_IDS, payout=_TRICKY, currency=_OPT,
                              daily_cap=st.none() | _INTS, fallback_offer=_OPT),
                    max_size=2).map(tuple),
    landers=st.lists(st.builds(Lander, id=_IDS, workspace=_IDS, name=_TRICKY, url=_TRICKY,
                               cta_count=_INTS), max_size=2).map(tuple),
    funnels=st.lists(st.builds(Funnel, id=_IDS, workspace=_IDS, name=_TRICKY,
                               landers=st.tuples(_IDS), offers=st.tuples(_IDS, _IDS)),
                     max_size=1).map(tuple),
    campaigns=st.lists(
        st.builds(
            Campaign, id=_IDS, workspace=_IDS, name=_TRICKY, code=_TRICKY, parent=_OPT,
            traffic_source=_IDS, cost_model=st.builds(CostModel, type=_TRICKY, value=_TRICKY),
            status=_TRICKY, schedule=st.builds(Schedule, start=_OPT, end=_OPT), budget=_OPT,
            redirect_mode=st.one_of(_TRICKY, _INTS), allow_permanent=st.booleans(),
            bot_policy=st.builds(BotPolicy, action=_TRICKY, url=_OPT),
            attribution_window_days=_INTS,
            rules=st.lists(st.builds(
                Rule, id=_IDS, name=_TRICKY, priority=st.none() | _INTS,
                conditions=st.lists(st.builds(
                    Condition, kind=_TRICKY, negate=st.booleans(), param=_TRICKY,
                    values=st.lists(st.one_of(_TRICKY, _INTS, st.booleans()), max_size=3
                                    ).map(tuple)), max_size=2).map(tuple),
                destinations=st.lists(_destination(), max_size=2).map(tuple)),
                max_size=2).map(tuple),
            default=st.lists(_destination(), max_size=2).map(tuple),
        ),
        max_size=2,
    ).map(tuple),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_GRAPHS, st.sampled_from(["yaml", "json"]))
def test_any_graph_round_trips(graph, fmt):
    assert load_graph(dump_graph(graph, fmt), fmt) == graph


def test_missing_file_is_a_problem_not_a_document(tmp_path):
    [problem] = _problems(str(tmp_path / "missing.yaml"))
    assert problem.startswith("cannot read")


@pytest.mark.parametrize("text", [
    '{"workspaces": [{"id": "w", "name": "A", "name": "B"}]}',
    '{"workspaces": [{"id": 1, "id": "w", "name": "W"}]}',
    '{"workspaces": [{"id": "w", "name": "W"}], "workspaces": []}',
    '{"workspaces": null, "offers": [{"id": "o"}], "x": 1}',
    '{"offers": {}}',
    "[1]",
    "null",
])
def test_json_decoded_straight_into_the_model_as_through_builtins(text):
    import msgspec

    from turnout.config.io import graph_from_builtins

    try:
        expected: object = graph_from_builtins(msgspec.json.decode(text))
    except GraphInvalid as exc:
        expected = [str(p) for p in exc.problems]
    if isinstance(expected, list):
        assert _problems(text, "json") == expected
    else:
        assert load_graph(text, "json") == expected
