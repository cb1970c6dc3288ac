"""The not-counted report's query, and the refusal to report without a workspace's facts."""

from __future__ import annotations

import pytest

from turnout.reports import not_counted
from turnout.reports.errors import FactsMissing
from turnout.reports.spec import build_spec
from turnout.reports.workspaces import GraphFacts, WorkspaceFacts


def test_the_query_reads_only_the_workspaces_uncounted_rows_in_range() -> None:
    spec = build_spec(workspace="w1", start="2026-03-01", end="2026-03-01", tz="Europe/Berlin")
    query = not_counted.build_query(spec)
    assert "FROM conversions_latest" in query.sql and "NOT counted" in query.sql
    assert query.parameters == {"workspace": "w1", "start": "2026-02-28 23:00:00.000",
                                "end": "2026-03-01 23:00:00.000"}
    assert [c.name for c in query.columns] == ["reason", "source", "network", "status",
                                               "currency", "conversions", "payout"]
    unbounded = not_counted.build_query(build_spec(workspace="w1", start="all"))
    assert unbounded.parameters == {"workspace": "w1"} and "ts >=" not in unbounded.sql


def test_facts_of_an_unknown_workspace_are_refused_not_guessed() -> None:
    facts = GraphFacts(4, {"w1": WorkspaceFacts("Europe/Berlin", "EUR")})
    assert facts.workspace("w1") == WorkspaceFacts("Europe/Berlin", "EUR")
    with pytest.raises(FactsMissing, match="graph version 4 has no such workspace") as caught:
        facts.workspace("w2")
    assert caught.value.retriable
    with pytest.raises(FactsMissing, match="no campaign graph could be loaded"):
        GraphFacts().workspace("w1")
