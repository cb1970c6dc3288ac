"""The ClickHouse side of ingest: inserts through reusable contexts, and look-ups.

Synchronous (clickhouse-connect, chdb); the pipelines call it from worker threads. The
clickhouse-connect internals `encode` needs come from ingest.driver_internals, which checks
at import that the installed version still has them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import msgspec
from clickhouse_connect.driver.client import Client

from turnout import clickid
from turnout.events import Click, Event
from turnout.ingest import schema
from turnout.ingest.attribution import DAY_MS, LOOKUP_COLUMNS, ClickRef
from turnout.ingest.driver_internals import (
    TESTED_RANGE,
    InsertContext,
    NativeTransform,
    quote_identifier,
)
from turnout.ingest.errors import IngestError

# How far a click's stored ts may sit from the time in its id (edge clock vs id clock).
_ID_SLACK_MS = DAY_MS
# Visitor look-ups read this many of a visitor's newest clicks; last touch needs one.
_CANDIDATES_PER_VISITOR = 50
_MAX_LOOKBACK_MS = 400 * DAY_MS
# LP clicks read per campaign click; a conversion takes the newest one before it.
_LP_CLICKS_PER_PARENT = 20
# Up to this many stored rows per batch row in range, fetching them beats an IN list.
_FETCH_NEARBY_FACTOR = 4
_SELECT_CLICK = ", ".join(
    "toUnixTimestamp64Milli(ts) AS ts_ms" if name == "ts_ms" else name for name in LOOKUP_COLUMNS
)
_RANGE = (
    "ts >= fromUnixTimestamp64Milli({lo:Int64}, 'UTC') "
    "AND ts <= fromUnixTimestamp64Milli({hi:Int64}, 'UTC')"
)


def _key_sets(rows: Iterable[Mapping[str, Any]], **columns: str) -> dict[str, list[str]]:
    """Query parameters: for each name, the sorted distinct values of its column in `rows`."""
    rows = list(rows)
    return {name: sorted({str(row[column]) for row in rows}) for name, column in columns.items()}


def _dedup_settings(token: str) -> dict[str, Any]:
    # Blocks are deduplicated in the materialized views' tables too, each on its own: a
    # replay whose `clicks` block is a duplicate still writes a view that lacks its part
    # (ingest killed between the parts), and a view that has it drops it. Set, not left
    # to the default: with 0, chdb 26.9 writes every view again on a duplicate block.
    return {
        "insert_deduplicate": 1,
        "insert_deduplication_token": token,
        "deduplicate_blocks_in_dependent_materialized_views": 1,
    }


class Store:
    """Inserts go through `client`; look-ups through `reader` when one is given.

    With its own reader a look-up can run while an insert is under way: a chdb handle
    (and an HTTP session) takes one statement at a time.
    """

    def __init__(self, client: Client, database: str, reader: Client | None = None) -> None:
        self.client = client
        self.reader = reader if reader is not None else client
        self.database = database
        client.database = database
        self.reader.database = database
        self._contexts: dict[str, InsertContext] = {}

    def _context(self, table: str) -> InsertContext:
        context = self._contexts.get(table)
        if context is None:
            columns = schema.TABLES[table]
            context = self.client.create_insert_context(
                table,
                [name for name, _type in columns],
                database=self.database,
                column_type_names=[type_ for _name, type_ in columns],
                column_oriented=True,
            )
            self._contexts[table] = context
        return context

    def insert(self, table: str, columns: list[list[Any]], token: str) -> None:
        context = self._context(table)
        context.settings = _dedup_settings(token)
        context.data = columns
        try:
            self.client.insert(context=context)
        finally:
            context.data = None

    def encode(self, table: str, columns: list[list[Any]]) -> bytes:
        """`columns` as the Native-format body of an insert into `table`, built by
        clickhouse-connect's own serializer (the one `insert` runs), for `insert_encoded`.

        The pipelines encode on the event loop, before handing the write to a worker
        thread: the serializer is Python and needs the GIL, so in the worker it would take
        turns with the next batch's decode and run two to three times slower, holding back
        the insert behind it. The thread then only waits on ClickHouse, which frees the GIL.
        """
        context = self._context(table)
        context.data = columns
        # Uncompressed: raw_insert below says no Content-Encoding. (An HTTP client's
        # `insert` sets its own write compression on a context it is given.)
        context.compression = None
        try:
            body = b"".join(NativeTransform.build_insert(context))
            failure = context.insert_exception
        finally:
            context.insert_exception = None
            context.data = None
        if failure is not None:
            raise failure
        # The first block carries the statement for an HTTP body; a raw insert names it.
        names = ", ".join(quote_identifier(name) for name in context.column_names)
        statement = f"INSERT INTO {context.table} ({names}) FORMAT Native\n".encode()
        if not body.startswith(statement):
            raise IngestError(
                f"unexpected Native body for {table}: clickhouse-connect's serializer changed "
                f"(tested with {TESTED_RANGE})"
            )
        return body[len(statement) :]

    def insert_encoded(self, table: str, body: bytes, token: str) -> None:
        """Insert what `encode` built; the same rows and dedup token as `insert`."""
        self.client.raw_insert(
            table, [name for name, _type in schema.TABLES[table]], body,
            settings=_dedup_settings(token), fmt="Native",
        )

    def stored_click_batches(self, clicks: Sequence[Click]) -> dict[str, str]:
        """The ids of `clicks` already stored, each with the ingest_batch that stored it
        (any one, if several did).

        Sending thousands of ids costs more than the look-up (ClickHouse parses a long IN
        list slowly), so first fetch what is stored in the batch's own key range: time,
        workspaces, campaigns and click-id span. Usually that is a few rows, intersected
        here; only a wide range (a late replay) pays for the IN list.
        """
        if not clicks:
            return set()
        ids = [c.click_id for c in clicks]
        parameters = {
            "lo": min(c.ts_ms for c in clicks),
            "hi": max(c.ts_ms for c in clicks),
            "workspaces": sorted({c.workspace_id for c in clicks}),
            "campaigns": sorted({c.campaign_id for c in clicks}),
            "first": min(ids),
            "last": max(ids),
        }
        where = (
            f"{_RANGE} AND workspace_id IN {{workspaces:Array(String)}} "
            "AND campaign_id IN {campaigns:Array(String)} "
            "AND click_id >= {first:String} AND click_id <= {last:String}"
        )
        limit = _FETCH_NEARBY_FACTOR * len(ids)
        rows = self.reader.query(
            f"SELECT click_id, ingest_batch FROM clicks WHERE {where} LIMIT {limit + 1}",
            parameters=parameters,
        ).result_rows
        if len(rows) > limit:
            rows = self.reader.query(
                f"SELECT click_id, any(ingest_batch) FROM clicks WHERE {where} "
                "AND click_id IN {ids:Array(String)} GROUP BY click_id",
                parameters={**parameters, "ids": ids},
            ).result_rows
        wanted = set(ids)
        return {str(i): str(batch) for i, batch in rows if i in wanted}

    def stored_conversions(self, rows: Sequence[Mapping[str, Any]]) -> set[tuple[str, str]]:
        """The (conversion_id, click_id) of those attribution `rows` that are stored."""
        if not rows:
            return set()
        found = self.reader.query(
            "SELECT conversion_id, click_id FROM conversions "
            "WHERE workspace_id IN {workspaces:Array(String)} "
            "AND campaign_id IN {campaigns:Array(String)} AND click_id IN {clicks:Array(String)} "
            "AND conversion_id IN {ids:Array(String)}",
            parameters=_key_sets(rows, workspaces="workspace_id", campaigns="campaign_id",
                                 clicks="click_id", ids="conversion_id"),
        ).result_rows
        return {(str(conversion), str(click)) for conversion, click in found}

    def stored_events(self, events: Sequence[Event]) -> set[str]:
        """The ids of those `events` that are stored."""
        if not events:
            return set()
        found = self.reader.query(
            "SELECT event_id FROM events WHERE workspace_id IN {workspaces:Array(String)} "
            "AND campaign_id IN {campaigns:Array(String)} AND event_id IN {ids:Array(String)}",
            parameters=_key_sets([msgspec.structs.asdict(e) for e in events],
                                 workspaces="workspace_id", campaigns="campaign_id",
                                 ids="event_id"),
        ).result_rows
        return {str(event_id) for (event_id,) in found}

    def latest_click_ts(self, workspaces: Iterable[str], since_ms: int) -> dict[str, int]:
        """Per workspace, the newest stored click ts (ms) if one is at or after `since_ms`,
        else `since_ms - 1`: a bound on the ts of every stored click of the workspace."""
        workspaces = sorted(set(workspaces))
        if not workspaces:
            return {}
        rows = self.reader.query(
            "SELECT workspace_id, toUnixTimestamp64Milli(max(ts)) FROM clicks "
            "WHERE workspace_id IN {workspaces:Array(String)} "
            "AND ts >= fromUnixTimestamp64Milli({since:Int64}, 'UTC') GROUP BY workspace_id",
            parameters={"workspaces": workspaces, "since": since_ms},
        ).result_rows
        found = {str(w): int(ts) for w, ts in rows}
        return {w: found.get(w, since_ms - 1) for w in workspaces}

    def clicks_by_id(self, ids: Iterable[str]) -> dict[str, ClickRef]:
        ids = sorted(set(ids))
        if not ids:
            return {}
        stamps = [clickid.timestamp_ms(i) for i in ids]
        rows = self.reader.query(
            f"SELECT {_SELECT_CLICK} FROM clicks WHERE {_RANGE} "
            "AND click_id IN {ids:Array(String)} LIMIT 1 BY click_id",
            parameters={
                "ids": ids, "lo": min(stamps) - _ID_SLACK_MS, "hi": max(stamps) + _ID_SLACK_MS,
            },
        ).result_rows
        return {str(row[0]): ClickRef.from_row(row) for row in rows}

    def clicks_by_visitor(
        self, visitors: Iterable[str], until_ms: int
    ) -> dict[str, list[ClickRef]]:
        """Each visitor's newest counted clicks up to `until_ms`, newest first."""
        visitors = sorted(set(visitors))
        if not visitors:
            return {}
        rows = self.reader.query(
            f"SELECT {_SELECT_CLICK} FROM clicks WHERE {_RANGE} "
            "AND visitor_id IN {visitors:Array(String)} AND kind = 'click' AND NOT is_bot "
            "ORDER BY visitor_id, ts DESC, click_id DESC "
            f"LIMIT {_CANDIDATES_PER_VISITOR} BY visitor_id",
            parameters={"visitors": visitors, "lo": until_ms - _MAX_LOOKBACK_MS, "hi": until_ms},
        ).result_rows
        found: dict[str, list[ClickRef]] = {}
        seen: set[str] = set()
        for row in rows:
            ref = ClickRef.from_row(row)
            if ref.click_id not in seen:  # an unmerged replay of the same click
                seen.add(ref.click_id)
                found.setdefault(ref.visitor_id, []).append(ref)
        return found

    def prior_visitor_conversions(
        self, pairs: Iterable[tuple[str, str]]
    ) -> dict[tuple[str, str], str]:
        """(visitor_id, txid) -> click id an earlier status of it was attributed to."""
        pairs = sorted(set(pairs))
        if not pairs:
            return {}
        rows = self.reader.query(
            "SELECT visitor_id, txid, argMin(click_id, version) FROM conversions "
            "WHERE visitor_id IN {visitors:Array(String)} AND txid IN {txids:Array(String)} "
            "AND attributed AND attribution = 'visitor' GROUP BY visitor_id, txid",
            parameters={
                "visitors": sorted({v for v, _t in pairs}),
                "txids": sorted({t for _v, t in pairs}),
            },
        ).result_rows
        wanted = set(pairs)
        return {(v, t): c for v, t, c in rows if (v, t) in wanted}

    def lp_clicks_of(self, parents: Sequence[ClickRef], until_ms: int
                     ) -> dict[str, list[ClickRef]]:
        """Per campaign click of `parents`, its LP clicks to an offer up to `until_ms`,
        newest first. Their workspaces, campaigns and times bound the read to the parents'
        part of the sort key."""
        if not parents:
            return {}
        parameters = {
            "ids": sorted({p.click_id for p in parents}),
            "workspaces": sorted({str(p.dimensions["workspace_id"]) for p in parents}),
            "campaigns": sorted({str(p.dimensions["campaign_id"]) for p in parents}),
            "lo": min(p.ts_ms for p in parents),
            "hi": until_ms,
        }
        rows = self.reader.query(
            f"SELECT {_SELECT_CLICK}, parent_click_id FROM clicks WHERE {_RANGE} "
            "AND workspace_id IN {workspaces:Array(String)} "
            "AND campaign_id IN {campaigns:Array(String)} AND kind = 'lp_click' "
            "AND offer_id != '' AND parent_click_id IN {ids:Array(String)} "
            "ORDER BY parent_click_id, ts DESC, click_id DESC "
            f"LIMIT {_LP_CLICKS_PER_PARENT} BY parent_click_id",
            parameters=parameters,
        ).result_rows
        found: dict[str, list[ClickRef]] = {}
        seen: set[str] = set()
        for row in rows:
            ref = ClickRef.from_row(row[:-1])
            if ref.click_id not in seen:  # an unmerged replay of the same click
                seen.add(ref.click_id)
                found.setdefault(str(row[-1]), []).append(ref)
        return found
