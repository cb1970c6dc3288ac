"""Exact per-id counts of what the soak's clicks and postbacks became in ClickHouse, read
after ingest has stopped (chdb opens one data path per process)."""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass

CLICKS = "SELECT click_id, count() FROM {db}.clicks WHERE kind = 'click' GROUP BY click_id"
CONVERSIONS = ("SELECT click_id, txid, count() FROM {db}.conversions "
               "GROUP BY click_id, txid")


@dataclass(frozen=True, slots=True)
class Tally:
    ledger: int  # accepted by the edge
    stored: int  # rows in ClickHouse (before merges collapse replays)
    distinct: int
    lost: int  # accepted, never stored
    duplicated: int  # stored rows beyond one per id
    unexpected: int  # stored, not in the ledger (an answer the client never saw)

    @property
    def clean(self) -> bool:
        return self.lost == 0 and self.duplicated == 0


def tally(ledger: Iterable[Hashable], stored: Mapping[Hashable, int]) -> Tally:
    """`stored`: rows per id."""
    expected = set(ledger)
    rows = sum(stored.values())
    return Tally(ledger=len(expected), stored=rows, distinct=len(stored),
                 lost=len(expected - stored.keys()), duplicated=rows - len(stored),
                 unexpected=len(stored.keys() - expected))


def stored_rows(dsn: str, database: str) -> tuple[dict[str, int], dict[tuple[str, str], int]]:
    """Rows per click id (campaign clicks) and per (click id, txid) conversion."""
    import clickhouse_connect

    client = clickhouse_connect.get_client(dsn=dsn)
    try:
        clicks = {row[0]: int(row[1])
                  for row in client.query(CLICKS.format(db=database)).result_rows}
        conversions = {(row[0], row[1]): int(row[2])
                       for row in client.query(CONVERSIONS.format(db=database)).result_rows}
    finally:
        client.close()
    return clicks, conversions
