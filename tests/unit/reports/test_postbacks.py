"""The postback delivery-rate report's query."""

from __future__ import annotations

from turnout.reports import postbacks
from turnout.reports.spec import build_spec


def test_the_query_reads_the_workspaces_postbacks_first_tried_in_range() -> None:
    spec = build_spec(workspace="w1", start="2026-03-01", end="2026-03-01", tz="Europe/Berlin")
    query = postbacks.build_query(spec)
    assert "FROM postback_deliveries FINAL" in query.sql
    assert "HAVING first_at >= {start:DateTime64(3, 'UTC')} AND first_at <" in query.sql
    assert query.parameters == {"workspace": "w1", "start": "2026-02-28 23:00:00.000",
                                "end": "2026-03-01 23:00:00.000", "tz": "Europe/Berlin"}
    assert [c.name for c in query.columns] == ["date", "source", "attempted", "delivered",
                                               "failed", "pending", "attempts", "delivery_rate"]
    unbounded = postbacks.build_query(build_spec(workspace="w1", start="all", tz="UTC"))
    assert "HAVING" not in unbounded.sql and unbounded.parameters == {"workspace": "w1",
                                                                       "tz": "UTC"}
