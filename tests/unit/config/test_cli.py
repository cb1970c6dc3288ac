from __future__ import annotations

from pathlib import Path

from turnout.cli.main import main
from turnout.errors import EXIT_BAD_INPUT

EXAMPLES = Path(__file__).parents[3] / "config" / "examples"


def test_validate_clean_graph(capsys):
    assert main(["graph", "validate", str(EXAMPLES / "graph.yaml")]) == 0
    out = capsys.readouterr().out
    assert "ok: 1 workspace(s)" in out and "3 campaign(s) with 6 rule(s)" in out


def test_validate_broken_graph_prints_every_problem_with_its_path(capsys):
    assert main(["graph", "validate", str(EXAMPLES / "broken-graph.yaml")]) == EXIT_BAD_INPUT
    lines = capsys.readouterr().out.splitlines()
    assert lines[:5] == [
        "offers[0].network: unknown network 'gamma-net'",
        "landers[0].url: scheme and host must be literal (no macro before the path)",
        "campaigns[0].rules[0].conditions[0].values: unknown country code or group 'XX'",
        "campaigns[0].rules[0].destinations[1].weight: must be >= 0",
        "campaigns[1].code: duplicate tracking code 'CAMP_A' (also campaigns[0].code)",
    ]
    assert lines[5].endswith("5 problem(s)")


def test_validate_reports_decode_errors(tmp_path, capsys):
    path = tmp_path / "g.json"
    path.write_text('{"workspaces": [{"id": "w"}], "offers": [{"id": 3}]}')
    assert main(["graph", "validate", str(path)]) == EXIT_BAD_INPUT
    out = capsys.readouterr().out
    assert "workspaces[0].name: required" in out
    assert "offers[0].id: Expected `str`, got `int`" in out


def test_validate_missing_file(tmp_path, capsys):
    assert main(["graph", "validate", str(tmp_path / "nope.yaml")]) == EXIT_BAD_INPUT
    assert "cannot read" in capsys.readouterr().out
