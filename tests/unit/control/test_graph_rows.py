from __future__ import annotations

from datetime import UTC, datetime

import msgspec

from benchmarks.big_graph import generate
from turnout.config import examples
from turnout.config.io import load_graph
from turnout.config.model import DEFAULT_RULE_ID
from turnout.control.graph_rows import BY_NAME, KINDS, TABLES, graph_rows, instant, tables_of

EXAMPLE = load_graph(examples.GRAPH)
WITH_DOMAINS = msgspec.structs.replace(EXAMPLE, workspaces=(
    msgspec.structs.replace(EXAMPLE.workspaces[0], domains=("go.example.com",)),))


def test_every_row_has_its_tables_columns() -> None:
    for graph in (WITH_DOMAINS, generate(30)):
        rows = graph_rows(graph)
        for table in TABLES:
            assert rows[table.name] or graph is not WITH_DOMAINS, table.name
            assert {len(row) for row in rows[table.name]} <= {len(table.columns)}, table.name


def test_tables_name_their_key_and_owner_among_their_columns() -> None:
    assert [t.kind for t in TABLES if t.is_entity] == list(KINDS)
    for table in TABLES:
        assert set(table.key) <= set(table.columns) and table.owner in table.columns
        assert tables_of(table.kind)[0].is_entity
    assert BY_NAME["destinations"].owner == "campaign_id"


def test_every_campaign_has_a_default_path_row_after_its_rules() -> None:
    rows = graph_rows(EXAMPLE)
    rules = BY_NAME["rules"].columns
    by_campaign: dict[str, list[tuple]] = {}
    for row in rows["rules"]:
        by_campaign.setdefault(row[0], []).append(row)
    for campaign in EXAMPLE.campaigns:
        mine = by_campaign[campaign.id]
        assert [r[rules.index("id")] for r in mine] == [
            *(rule.id for rule in campaign.rules), DEFAULT_RULE_ID]
        assert mine[-1][rules.index("position")] is None


def test_a_destination_fills_exactly_the_reference_its_kind_names() -> None:
    columns = BY_NAME["destinations"].columns
    for row in graph_rows(EXAMPLE)["destinations"]:
        kind = row[columns.index("kind")]
        refs = {name: row[columns.index(f"{name}_id")] for name in ("offer", "lander", "funnel")}
        filled = {name for name, value in refs.items() if value is not None}
        assert filled == ({kind} if kind != "url" else set())
        assert (row[columns.index("url")] is not None) == (kind == "url")


def test_schedule_instants_are_read_in_the_workspace_time_zone() -> None:
    assert instant(None, "UTC") is None
    assert instant("2025-06-01T00:00:00", "Europe/Berlin") == datetime(2025, 5, 31, 22, tzinfo=UTC)
    assert instant("2025-06-01T00:00:00+00:00", "Europe/Berlin") == datetime(2025, 6, 1,
                                                                             tzinfo=UTC)
