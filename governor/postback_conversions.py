"""The conversions owed a postback, read from ClickHouse.

`conversions_latest` holds each conversion (click_id, txid) in its latest status with its
click's dimensions (attribution copied them: campaign, source, subs, external_id, geo,
device); the click's visitor id, cost and other URL parameters come from `clicks`. Only
counted conversions (attributed, inside their campaign's attribution window) are owed one.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any, Final

from turnout.events import SUB_NAMES, amount_text
from turnout.governor.postback_fill import Conversion
from turnout.governor.tick import ClickHouse

# Click macros the conversion row carries, in the order they are selected.
_CLICK_COLUMNS: Final = ("campaign_code", "offer_id", "lander_id", "country", "region", "city",
                         "device", "os", "browser", "language", "external_id", *SUB_NAMES)
_SINCE: Final = "fromUnixTimestamp64Milli({since:Int64}, 'UTC')"
_WANTED: Final = (f"ts >= {_SINCE} AND counted "
                  "AND has({wanted:Array(String)}, "
                  "concat(workspace_id, '/', traffic_source_id, '/', status))")
SQL: Final = f"""
SELECT c.workspace_id, c.traffic_source_id, c.campaign_id, c.click_id, c.txid, c.status,
       toUnixTimestamp64Milli(c.ts), c.payout_micros, c.currency, c.event,
       {', '.join(f'c.{name}' for name in _CLICK_COLUMNS)},
       k.visitor_id, k.cost_micros, k.params
FROM (SELECT * FROM conversions_latest WHERE {_WANTED}
      ORDER BY ts, click_id, txid LIMIT {{batch:UInt32}}) AS c
LEFT JOIN (SELECT click_id, any(visitor_id) AS visitor_id, any(cost_micros) AS cost_micros,
                  any(params) AS params
           FROM clicks
           WHERE has({{workspaces:Array(String)}}, workspace_id)
             AND click_id IN (SELECT click_id FROM conversions_latest WHERE {_WANTED})
           GROUP BY click_id) AS k ON k.click_id = c.click_id
ORDER BY c.ts, c.click_id, c.txid
"""


def wanted(sources: Collection[tuple[str, str, Collection[str]]]) -> list[str]:
    """The `workspace/source/status` keys of (workspace, source, statuses) triples."""
    return [f"{workspace}/{source}/{status}" for workspace, source, statuses in sources
            for status in statuses]


def _conversion(row: Sequence[Any]) -> Conversion:
    clicks = len(_CLICK_COLUMNS)
    click = dict(zip(_CLICK_COLUMNS, (str(v) for v in row[10:10 + clicks]), strict=True))
    visitor_id, cost_micros, params = row[10 + clicks:]
    click["visitor_id"] = visitor_id or ""
    click["cost"] = amount_text(int(cost_micros or 0))
    return Conversion(workspace_id=row[0], traffic_source_id=row[1], campaign_id=row[2],
                      click_id=row[3], txid=row[4], status=row[5], ts_ms=int(row[6]),
                      payout_micros=int(row[7]), currency=row[8], event=row[9], click=click,
                      params=dict(params or {}))


async def owed(clickhouse: ClickHouse, sources: Collection[tuple[str, str, Collection[str]]],
               since_ms: int, batch: int) -> list[Conversion]:
    """The counted conversions from `since_ms` on (the edge's acceptance time of their
    latest status), oldest first, at most `batch`, whose (workspace, source, status) is one
    of `sources`' (workspace, source id, statuses it wants)."""
    if not sources:
        return []
    rows = await clickhouse.rows(SQL, {
        "since": since_ms, "wanted": wanted(sources), "batch": batch,
        "workspaces": sorted({workspace for workspace, _, _ in sources})})
    return [_conversion(row) for row in rows]
