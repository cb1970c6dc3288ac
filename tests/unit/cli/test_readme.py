"""The README's example shows what `turnout report` prints, header and name column included."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

from turnout.reports.format import to_table
from turnout.reports.query import build_query
from turnout.reports.run import ReportResult
from turnout.reports.spec import build_spec

README = Path(__file__).resolve().parents[3] / "README.md"


def test_readme_report_output_is_the_formatters():
    text = README.read_text()
    command = re.search(r"turnout report --workspace (\S+) --group-by (\S+)", text)
    assert command is not None
    workspace, group_by = command.groups()
    shown = text[command.end():].split("\n")[1:4]
    columns = build_query(build_spec(workspace=workspace, group_by=group_by, tz="UTC",
                                     currency="EUR")).columns
    cells = re.split(r"\s{2,}", shown[2].strip())
    row = tuple(int(v) if c.kind == "count" else Decimal(v) if c.kind else v
                for v, c in zip(cells, columns, strict=True))
    assert to_table(ReportResult(columns, [row])).splitlines() == shown
