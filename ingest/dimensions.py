"""Names of graph entities per graph version (dim_* tables), written on every publish.

The caller turns the compiled graph into plain rows; this module only knows the tables.
Rows are keyed (workspace_id, id, graph_version) in a ReplacingMergeTree, so writing the
same version twice is harmless.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from clickhouse_connect.driver.client import Client

from turnout.ingest.errors import IngestError

_LC: Final = "LowCardinality(String)"
_KEY: Final = (("workspace_id", _LC), ("id", "String"), ("graph_version", "UInt64"))
DIMENSION_TABLES: Final[dict[str, tuple[tuple[str, str], ...]]] = {
    "dim_campaigns": (
        *_KEY,
        ("name", "String"),
        ("code", "String"),
        ("parent_id", "String"),
        ("traffic_source_id", "String"),
        ("cost_model", _LC),
        ("cost_rate_micros", "Int64"),
        ("attribution_window_ms", "UInt64"),
        ("unique_window_ms", "UInt64"),
    ),
    "dim_offers": (
        *_KEY,
        ("name", "String"),
        ("network_id", "String"),
        ("payout_micros", "Int64"),
        ("currency", _LC),
    ),
    "dim_landers": (*_KEY, ("name", "String")),
    "dim_sources": (*_KEY, ("name", "String")),
    "dim_networks": (*_KEY, ("name", "String")),
}


class DimensionError(IngestError, ValueError):
    """Rows that do not fit the dimension tables."""


def _default(type_: str) -> Any:
    return 0 if type_.startswith(("UInt", "Int")) else ""


def write_dimensions(
    client: Client, version: int, rows: Mapping[str, Sequence[Mapping[str, Any]]]
) -> int:
    """Insert `rows` (table -> [{workspace_id, id, name, ...}]) as graph `version`.

    Missing optional columns get their zero value; an unknown table or column is an
    error rather than silently dropped. Returns the number of rows written.
    """
    written = 0
    for table, items in rows.items():
        columns = DIMENSION_TABLES.get(table)
        if columns is None:
            raise DimensionError(f"{table}: not a dimension table")
        names = {name for name, _type in columns}
        for index, item in enumerate(items):
            unknown = set(item) - names
            if unknown:
                raise DimensionError(f"{table}[{index}]: unknown columns {sorted(unknown)}")
            if not item.get("id") or "workspace_id" not in item:
                raise DimensionError(f"{table}[{index}]: workspace_id and id are required")
        if not items:
            continue
        data = [
            [
                version if name == "graph_version" else item.get(name, _default(type_))
                for item in items
            ]
            for name, type_ in columns
        ]
        client.insert(
            table,
            data,
            column_names=[name for name, _type in columns],
            column_type_names=[type_ for _name, type_ in columns],
            column_oriented=True,
        )
        written += len(items)
    return written
