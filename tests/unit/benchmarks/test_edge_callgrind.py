"""benchmarks.edge_callgrind: the instructions a callgrind file counted."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.edge_callgrind import _edge, callgrind_total


def test_the_totals_line_is_the_count(tmp_path: Path) -> None:
    out = tmp_path / "callgrind.out"
    # What callgrind writes with --instr-atstart=no: a summary of 0, the counted totals.
    out.write_text("version: 1\ncmd: python\nevents: Ir\nsummary: 0\nfn=main\n16 5\n"
                   "totals: 1773541139\n")
    assert callgrind_total(out) == 1_773_541_139


def test_a_file_without_totals_is_an_error(tmp_path: Path) -> None:
    out = tmp_path / "callgrind.out"
    out.write_text("version: 1\nevents: Ir\n")
    with pytest.raises(ValueError, match="no totals"):
        callgrind_total(out)


def test_the_edge_command_leaves_its_port_to_fill(tmp_path: Path) -> None:
    argv = _edge(tmp_path)
    assert argv[-2:] == ["--port", "{port}"]
    assert argv[0] == str(tmp_path / ".venv" / "bin" / "python")
