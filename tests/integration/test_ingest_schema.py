"""Migrations against real chdb: idempotent, commented, and matching the insert columns."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import clickhouse_connect
import pytest

from tests.integration.ingest_support import make_database, unique
from turnout.ingest import schema
from turnout.ingest.dimensions import DIMENSION_TABLES, DimensionError, write_dimensions
from turnout.ingest.migrate import MigrationError, load_migrations, migrate


@pytest.fixture(scope="module")
def database(clickhouse_dsn: str) -> str:
    return make_database(clickhouse_dsn)


@pytest.fixture(scope="module")
def ch(clickhouse_dsn: str, database: str) -> Any:
    client = clickhouse_connect.get_client(dsn=clickhouse_dsn)
    client.database = database
    return client


def test_migrate_is_idempotent_and_records_every_file(ch: Any, database: str) -> None:
    assert migrate(ch, database) == []
    recorded = ch.query(f"SELECT name FROM {database}.schema_migrations ORDER BY version")
    assert [r[0] for r in recorded.result_rows] == [m.name for m in load_migrations()]


def test_every_column_has_a_comment(ch: Any, database: str) -> None:
    missing = ch.query(
        "SELECT table, name FROM system.columns WHERE database = {d:String} AND comment = ''",
        parameters={"d": database},
    ).result_rows
    assert missing == []
    tables = ch.query("SELECT count() FROM system.columns WHERE database = {d:String}",
                      parameters={"d": database}).result_rows[0][0]
    assert tables > 150  # the check looked at the real schema, not an empty database


@pytest.mark.parametrize("table", [*schema.TABLES, *DIMENSION_TABLES])
def test_insert_columns_match_the_tables(ch: Any, database: str, table: str) -> None:
    columns = schema.TABLES.get(table) or DIMENSION_TABLES[table]
    actual = ch.query(
        "SELECT name, type FROM system.columns WHERE database = {d:String} AND table = {t:String}"
        " ORDER BY position", parameters={"d": database, "t": table},
    ).result_rows
    assert [tuple(r) for r in actual] == list(columns)


def test_sort_keys_lead_with_workspace_and_campaign(ch: Any, database: str) -> None:
    keys = dict(ch.query(
        "SELECT name, sorting_key FROM system.tables WHERE database = {d:String}",
        parameters={"d": database},
    ).result_rows)
    for table in ("clicks", "conversions", "events", "clicks_geo", "clicks_wide"):
        assert keys[table].startswith("workspace_id, campaign_id"), table


def test_the_superseded_hourly_rollup_is_gone(ch: Any, database: str) -> None:
    tables = {row[0] for row in ch.query(
        "SELECT name FROM system.tables WHERE database = {d:String}", parameters={"d": database},
    ).result_rows}
    assert {"clicks", "clicks_geo", "clicks_wide", "clicks_geo_mv"} <= tables
    assert not tables & {"clicks_hourly", "clicks_hourly_mv"}


def test_a_changed_migration_is_refused(clickhouse_dsn: str, tmp_path: Path) -> None:
    client = clickhouse_connect.get_client(dsn=clickhouse_dsn)
    name = unique("mig")
    (tmp_path / "0001_one.sql").write_text(
        "CREATE TABLE IF NOT EXISTS t (a UInt8 COMMENT 'a') ENGINE = MergeTree ORDER BY a;\n"
    )
    assert migrate(client, name, tmp_path) == ["0001_one.sql"]
    (tmp_path / "0001_one.sql").write_text("SELECT 1;\n")
    with pytest.raises(MigrationError, match="changed"):
        migrate(client, name, tmp_path)


def test_dimensions_keep_the_name_at_the_time_and_today(ch: Any) -> None:
    ws = unique("ws")
    write_dimensions(ch, 1, {"dim_campaigns": [
        {"workspace_id": ws, "id": "c1", "name": "Summer", "cost_model": "cpa",
         "cost_rate_micros": 2_000_000},
    ], "dim_offers": [{"workspace_id": ws, "id": "o1", "name": "Offer"}]})
    write_dimensions(ch, 2, {"dim_campaigns": [{"workspace_id": ws, "id": "c1", "name": "Autumn"}]})
    write_dimensions(ch, 2, {"dim_campaigns": [{"workspace_id": ws, "id": "c1", "name": "Autumn"}]})
    at_time = ch.query(
        "SELECT graph_version, name, cost_model FROM dim_campaigns FINAL "
        "WHERE workspace_id = {w:String} ORDER BY graph_version", parameters={"w": ws},
    ).result_rows
    assert at_time == [(1, "Summer", "cpa"), (2, "Autumn", "")]
    today = ch.query("SELECT graph_version, name FROM dim_campaigns_latest "
                     "WHERE workspace_id = {w:String}", parameters={"w": ws}).result_rows
    assert today == [(2, "Autumn")]
    with pytest.raises(DimensionError):
        write_dimensions(ch, 3, {"dim_campaigns": [{"workspace_id": ws, "id": "c", "nmae": "x"}]})


def test_fx_rates_are_global_and_exact(ch: Any, database: str) -> None:
    """0011: rates have no workspace (market data) and an exact Decimal; the view reads them."""
    columns = ch.query(
        "SELECT table, name, type FROM system.columns WHERE database = {d:String}"
        " AND table IN ('fx_rates', 'fx_rates_latest') ORDER BY table, position",
        parameters={"d": database}).result_rows
    assert [tuple(r) for r in columns] == [
        ("fx_rates", "day", "Date"), ("fx_rates", "currency", "LowCardinality(String)"),
        ("fx_rates", "base", "LowCardinality(String)"), ("fx_rates", "rate", "Decimal(38, 10)"),
        ("fx_rates", "version", "UInt64"), ("fx_rates", "imported_by", "String"),
        ("fx_rates_latest", "day", "Date"),
        ("fx_rates_latest", "currency", "LowCardinality(String)"),
        ("fx_rates_latest", "base", "LowCardinality(String)"),
        ("fx_rates_latest", "rate", "Decimal(38, 10)")]


def test_offer_currency_columns_default_to_empty(ch: Any, database: str) -> None:
    """0013: clicks keep their offer's currency, conversions where theirs came from (the
    view shows it too); rows from before read as ''."""
    columns = ch.query(
        "SELECT table, name, type, default_expression FROM system.columns"
        " WHERE database = {d:String} AND name IN ('offer_currency', 'currency_source')"
        " ORDER BY table, name", parameters={"d": database}).result_rows
    assert [tuple(r) for r in columns] == [
        ("clicks", "offer_currency", "LowCardinality(String)", "''"),
        ("conversions", "currency_source", "LowCardinality(String)", "''"),
        ("conversions_latest", "currency_source", "LowCardinality(String)", "")]
