"""The block-style line reader: what it reads it reads as the reference loader does, and
whatever it leaves is left to the readers after it, with the reference's outcome."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from benchmarks.big_graph import generate
from turnout.config import yaml_reader
from turnout.config.io import dump_graph
from turnout.config.yaml_lines import Unsupported, read_block
from turnout.config.yaml_reader import load_yaml

from .test_io import _GRAPHS
from .test_yaml_reader import _outcome, _reference

_W = "workspaces:\n- id: w\n  name: W\n"
# Read by the line reader alone.
READ = [
    _W,
    "workspaces:\n  - id: w\n    name: W\n",  # an indented sequence
    "# a comment\n\nworkspaces:\n\n  # another\n- id: w\n  name: W\n",
    "workspaces:\n- id: w\n  name: 'W: it''s #1'\n  fallback_url: \"https://x.test/#a\"\n",
    "workspaces: []\nfunnels: {}\noffers:\nlanders: ~\n",
    "workspaces:\n- id: 010\n  name: NO\n  raw_ip: yes\n",  # an int, text, text: problems
    "workspaces:\n- id: w\n  name: W\n  raw_ip: true\n  bot_ip_ranges:\n  - 10.0.0.0/8\n",
    "networks:\n- id: n\n  workspace: w\n  name: N\n  secret: s\n  statuses:\n"
    "    '1': approved\n    -1: declined\n    1:30: x\n",
    "offers:\n- id: o\n  workspace: w\n  name: O\n  url: https://o.test/?a=b#c\n"
    "  network: n\n  payout: 12.50\n  daily_cap: 0x1F\n",
    "campaigns:\n- id: c\n  schedule:\n    start: 2025-06-01T00:00:00\n  rules:\n  - id: r\n"
    "    conditions:\n    - values:\n      - -1\n      - a:b\n      - ü✓\n",
    "surprise:\n  deep:\n    deeper: []\n",
    "7: x\nnull: y\n'': z\n",
    "workspaces: 3\nfunnels: text\n",
]
# Left to the event reader or the reference loader.
LEFT = [
    "",
    "# only a comment\n",
    "---\nworkspaces: []\n",
    "workspaces: []\n...\n",
    "workspaces: [{id: w, name: W}]\n",  # a flow collection with content
    "workspaces:\n- id: w   # a trailing comment\n  name: W\n",
    "workspaces:\n- id: w \n  name: W\n",  # a trailing space
    "workspaces:\n- id: w\n  name:  W\n",  # two spaces
    "workspaces:\r\n- id: w\r\n  name: W\r\n",
    "workspaces:\n- id: w\n\tname: W\n",
    "\ufeffworkspaces: []\n",
    "workspaces:\n- id: w\n  name: a\x85b\n",
    "workspaces:\n- id: w\n  name: a\u2028b\n",
    "workspaces:\n- id: w\n  name: long\n    text\n",  # a continuation line
    "workspaces:\n- id: w\n  name:\n    on its own line\n",
    "workspaces:\n- id: w\n  name: |\n    block\n",
    "workspaces:\n- id: w\n  name: 'two\n    lines'\n",
    'workspaces:\n- id: w\n  name: "esc\\aped"\n',
    "workspaces:\n- id: &i w\n  name: *i\n",
    "workspaces:\n- id: !!str 1\n  name: W\n",
    "workspaces:\n- id: w\n  id: v\n",  # a duplicate key
    "workspaces: []\nworkspaces: []\n",
    "workspaces:\n- id: w\n   name: W\n",  # bad indentation
    "workspaces:\n- id: w\n name: W\n",
    "workspaces:\n-\n  id: w\n",
    "workspaces:\n- id: w\n- - x\n  - y\n",
    "workspaces:\n- a list item\n- - 1\n",
    "workspaces:\n- values:\n  -\n    - nested\n",
    "workspaces:\n- [ ]\n",
    "? complex\n: key\n",
    "workspaces :\n- id: w\n",  # a space before the colon
    "workspaces:\n- id: w\n  name: a: b\n",
    "workspaces:\n- id: w\n  name: W:\n",
    "workspaces:\n- id: w\n  name: #x\n",
    "workspaces:\n- id: w\n  name: -\n",
    "workspaces:\n- id: w\n  <<: x\n",
    "  workspaces: []\n",
    "- a list\n",
    "just text\n",
    "workspaces:\n- id: w\nname: W\nname: V\n",
    "x" * 1100 + ": y\n",
]


def _only_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(text: str) -> None:
        pytest.fail("left to another reader")

    monkeypatch.setattr(yaml_reader, "_fast", refuse)
    monkeypatch.setattr(yaml_reader, "reference_load", refuse)


@pytest.mark.parametrize("text", READ)
def test_read_by_the_line_reader_as_the_reference_reads_it(text, monkeypatch):
    expected = _outcome(_reference, text)
    _only_lines(monkeypatch)
    assert _outcome(load_yaml, text) == expected


@pytest.mark.parametrize("text", LEFT)
def test_left_to_the_other_readers_with_the_reference_outcome(text):
    with pytest.raises(Unsupported):
        read_block(text, yaml_reader._Scalars())
    assert _outcome(load_yaml, text) == _outcome(_reference, text)


def test_a_generated_graph_file_is_read_by_the_line_reader(monkeypatch):
    graph = generate(30)
    text = dump_graph(graph, "yaml")
    _only_lines(monkeypatch)
    assert load_yaml(text) == graph


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_GRAPHS)
def test_any_graph_in_block_style_reads_as_the_reference_does(graph):
    text = dump_graph(graph, "yaml")
    assert _outcome(load_yaml, text) == _outcome(_reference, text)


# Hand-written block YAML, right or wrong: raw tokens (not escaped) at random indentation,
# with comments, blank lines and trailing spaces thrown in.
_TOKENS = st.sampled_from([
    "w", "id", "name", "NO", "yes", "true", "False", "null", "~", "12.50", "1e3", "0x1F",
    "012", "1_000", "1:30", "-1", "+7", "2025-06-01", "a:b", "a: b", "a:", ":a", "a #b",
    "a#b", "#c", "- x", "-x", "-", "--", "---", "...", "?x", "? x", "'q'", "'it''s'", "'q",
    '"d"', '"e\\n"', '"', "[]", "{}", "[ ]", "[a]", "{a: 1}", "&a x", "*a", "!t x", "|", ">",
    "%x", "@x", "`x", "<<", "=", "a, b", "ü✓", "https://x.test/?a=b#c", " lead", "x" * 1030,
])
# Scalars the line reader takes, some of them typed or odd.
_PLAIN = st.sampled_from([
    "w", "id", "name", "a b", "https://x.test/?a=b#c", "NO", "yes", "true", "null", "~", "12",
    "012", "12.50", "1:30", "0x1F", "-1", "a:b", "a#b", "-x", "--", "'it''s'", "'a: #b'",
    '"d"', "[]", "{}", "ü✓", "2025-06-01",
])
_ANY = st.one_of(_PLAIN, _PLAIN, _PLAIN, _TOKENS,
                 st.text(alphabet="ab: #-'\"\\[]{}!&*,?", min_size=1, max_size=5))
_WIDE = st.one_of(_PLAIN, st.text(min_size=1, max_size=6),
                  st.text(alphabet=" -:#'\"ab\\\t\x85\u2028\ufeff\u00a0", min_size=1, max_size=6))
_NAMES = st.sampled_from(["workspaces", "offers", "surprise", "id", "name"])


def _tree(depth: int, text: st.SearchStrategy[str]) -> st.SearchStrategy[object]:
    if depth == 0:
        return text
    inner = _tree(depth - 1, text)
    keys = st.one_of(_NAMES, text)
    return st.one_of(
        text,
        st.none(),
        st.lists(inner, min_size=1, max_size=3),
        st.lists(st.tuples(keys, inner), min_size=1, max_size=3),
    )


@st.composite
def _block_text(draw: st.DrawFn, text: st.SearchStrategy[str] = _ANY) -> str:
    lines: list[str] = []

    def step() -> int:
        return draw(st.sampled_from([2, 2, 2, 1, 3, 4]))

    def emit(node: object, indent: int, lead: str) -> None:
        # `lead` is what begins the first line: a key's "key:" or an item's "- ".
        pad = " " * indent
        if isinstance(node, list) and node and isinstance(node[0], tuple):
            for index, (key, value) in enumerate(node):
                head = (lead if index == 0 else pad) + f"{key}:"
                if value is None or isinstance(value, str):
                    lines.append(head if value is None else f"{head} {value}")
                else:
                    lines.append(head)
                    deeper = indent + (0 if isinstance(value, list) and not isinstance(
                        value[0], tuple) and draw(st.booleans()) else step())
                    emit(value, deeper, " " * deeper)
                lead = pad
        elif isinstance(node, list):
            for item in node:
                if item is None or isinstance(item, str):
                    lines.append(lead + "-" + ("" if item is None else f" {item}"))
                else:
                    emit(item, indent + 2, lead + "- ")
                lead = pad
        else:
            lines.append(lead + str(node))

    root = draw(st.lists(st.tuples(st.one_of(_NAMES, text), _tree(3, text)), min_size=1,
                         max_size=3))
    emit(root, 0, "")
    for _ in range(draw(st.integers(0, 2))):  # noise: comments, blanks, trailing spaces
        at = draw(st.integers(0, len(lines)))
        lines.insert(at, draw(st.sampled_from(["", "  ", "# note", "    # note"])))
    if draw(st.integers(0, 3)) == 0:
        at = draw(st.integers(0, len(lines) - 1))
        lines[at] += " "
    return "\n".join(lines) + draw(st.sampled_from(["\n", ""]))


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_block_text() | _block_text(_PLAIN) | _block_text(_WIDE))
def test_hand_written_block_yaml_gives_the_reference_outcome(text):
    assert _outcome(load_yaml, text) == _outcome(_reference, text)


def test_generated_block_text_is_often_read_by_the_line_reader():
    # The fuzz above means something only if many of its texts are read by lines: most
    # of those made of scalars the reader takes (the rest have a null item, a trailing
    # space, an indentation the reader leaves...).
    read = 0

    @settings(max_examples=200, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow])
    @given(_block_text(_PLAIN))
    def count(text: str) -> None:
        nonlocal read
        try:
            read_block(text, yaml_reader._Scalars())
        except Unsupported:
            return
        except Exception:
            pass
        read += 1

    count()
    assert read >= 25

