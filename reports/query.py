"""The one report query builder: ReportSpec -> parameterised ClickHouse SQL.

Shape (every door runs exactly this; docs/analytics.md shows it):

  SELECT <dimensions>, <names>, <metrics>            -- names joined from dim_* tables
  FROM (
      SELECT <dimensions>, sum(n_*) AS <base sums>, <formulas> AS <metrics>
      FROM (
          SELECT ... FROM clicks ...                   -- clicks, bots, LP, click costs
          UNION ALL SELECT ... FROM conversions_latest -- conversions, revenue, CPA/RevShare
          UNION ALL SELECT ... FROM clicks ...         -- fixed_total cost spread over clicks
      ) GROUP BY <dimensions>
  ) AS r LEFT JOIN ... ORDER BY ... LIMIT ... OFFSET ...

The two click-side sources read a rollup (clicks_geo / clicks_wide, and fixed_cost_terms
for the totals) instead of `clicks` when rollups.choose_rollup finds one that covers the
report; the numbers are the same either way, and `force_raw` always reads `clicks`.

Only whitelisted names (dimensions.DIMENSIONS, metrics.METRICS) become SQL text; every
value (workspace, filters, times, zone, statuses, limits) is a `{name:Type}` parameter.
Sources a request does not need are left out, so a clicks-only report never reads
conversions.

`clicks` is read without FINAL. Ingest inserts each click id once (it drops ids already
stored, and a retried batch carries the same deduplication token), the same invariant the
click rollups stand on; FINAL would re-merge every part on each report because
every batch spans all campaigns of the sort key (measured: 2-3x the whole report at 10M
clicks). Conversions do need FINAL, for latest-status-wins: conversions_latest has it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Final

from turnout.reports.dimensions import DIMENSIONS, TIME_DIMENSIONS, Dimension
from turnout.reports.errors import ParameterError
from turnout.reports.fx import CONVERSIONS, HELD, converted
from turnout.reports.metrics import BASES, METRICS, MONEY_BASES, Kind, Source
from turnout.reports.rollups import FIXED_TERMS, Rollup, choose_rollup
from turnout.reports.spec import ReportSpec, Sort

_TIME: Final = "DateTime64(3, 'UTC')"
_INDENT: Final = "    "


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    role: str  # dimension | name | metric
    kind: Kind | None = None  # for metrics
    places: int = 0


@dataclass(frozen=True, slots=True)
class Query:
    sql: str
    parameters: dict[str, Any]
    columns: tuple[Column, ...]


def _bases(spec: ReportSpec) -> tuple[str, ...]:
    needed = {base for name in spec.metrics for base in METRICS[name].needs}
    return tuple(base for base in BASES if base in needed)


def _clicks_aggregates(spec: ReportSpec) -> dict[str, str]:
    human = "1" if spec.include_bots else "NOT is_bot"
    return {
        "clicks": f"countIf(kind = 'click' AND {human})",
        "unique_clicks": f"sumIf(is_unique, kind = 'click' AND {human})",
        "bot_clicks": "countIf(kind = 'click' AND is_bot)",
        "lp_views": f"countIf(kind = 'click' AND {human} AND lander_id != '')",
        "lp_clicks": f"countIf(kind = 'lp_click' AND {human})",
        "cost_micros": f"sumIf(cost_micros, kind = 'click' AND {human})",
    }


def _rollup_aggregates(spec: ReportSpec) -> dict[str, str]:
    """The same sums as _clicks_aggregates over a rollup row (0006_report_rollups.sql)."""
    human = "1" if spec.include_bots else "NOT is_bot"
    return {
        "clicks": f"sumIf(clicks, {human})",
        "unique_clicks": f"sumIf(unique_clicks, {human})",
        "bot_clicks": "sumIf(clicks, is_bot)",
        "lp_views": f"sumIf(lp_views, {human})",
        "lp_clicks": f"sumIf(lp_clicks, {human})",
        "cost_micros": f"sumIf(cost_micros, {human})",
    }


_REVENUE: Final = converted("revenue_micros")
_CONVERSION_AGGREGATES: Final = {
    "conversions": "countIf(status IN {statuses:Array(String)})",
    "approved": "countIf(status = 'approved')",
    "pending": "countIf(status = 'pending')",
    "declined": "countIf(status = 'declined')",
    "chargebacks": "countIf(status = 'chargeback')",
    "held_conversions": f"countIf({HELD} AND status IN {{statuses:Array(String)}})",
    # In the workspace currency at the rate of the conversion's day; held ones add 0.
    "revenue_micros": f"sum({_REVENUE})",
    # CPA: a fixed amount per approved conversion; RevShare: percent x 1e6 of revenue.
    "cost_micros": "sumIf(cost_rate_micros, cost_model = 'cpa' AND status = 'approved')"
                   f" + sumIf(toInt64(intDiv(toInt128({_REVENUE}) * cost_rate_micros,"
                   " 100000000)), cost_model = 'revshare')",
}
# Bases of the conversions source that need the workspace currency (the rest are counts).
_CONVERTING: Final = frozenset({"held_conversions", "revenue_micros", "cost_micros"})

# Campaigns whose clicks carry the fixed_total model: one LowCardinality column to read,
# and as an IN set it lets the primary key skip every other campaign in the reads below.
_FIXED_CAMPAIGNS: Final = (
    "campaign_id IN (SELECT DISTINCT campaign_id FROM clicks"
    " WHERE workspace_id = {workspace:String} AND cost_model = 'fixed_total')"
)
# The campaign's fixed total over all its human clicks ever; a report range gets its share.
_FIXED_TOTALS: Final = (
    "SELECT campaign_id, count() AS total_clicks,"
    " argMax(cost_rate_micros, ts) AS total_micros\n"
    "        FROM clicks\n"
    f"        WHERE workspace_id = {{workspace:String}} AND {_FIXED_CAMPAIGNS}\n"
    "          AND kind = 'click' AND NOT is_bot AND cost_model = 'fixed_total'\n"
    "        GROUP BY campaign_id"
)
_FIXED_AGGREGATES: Final = {
    "cost_micros": "toInt64(intDiv(toInt128(any(totals.total_micros)) * count(),"
                   " any(totals.total_clicks)))",
}
# The same from a rollup: its fixed_clicks per row, the totals from fixed_cost_terms.
_ROLLUP_FIXED_TOTALS: Final = (
    "SELECT campaign_id, sum(clicks) AS total_clicks,"
    " argMaxMerge(total_micros) AS total_micros\n"
    f"        FROM {FIXED_TERMS}\n"
    "        WHERE workspace_id = {workspace:String}\n"
    "        GROUP BY campaign_id"
)
_ROLLUP_FIXED_AGGREGATES: Final = {
    "cost_micros": "toInt64(intDiv(toInt128(any(totals.total_micros)) * sum(fixed_clicks),"
                   " any(totals.total_clicks)))",
}


class _Builder:
    def __init__(self, spec: ReportSpec) -> None:
        self.spec = spec
        self.params: dict[str, Any] = {"workspace": spec.workspace}
        self.bases = _bases(spec)
        self.groups = [DIMENSIONS[name] for name in spec.group_by]
        self.rollup: Rollup | None = choose_rollup(spec)
        used = {*spec.group_by, *(name for name, _ in spec.filters)}
        if used & set(TIME_DIMENSIONS):
            self.params["tz"] = spec.tz
        if spec.start is not None:
            self.params["start"] = time_param(spec.start)
        if spec.end is not None:
            self.params["end"] = time_param(spec.end)
        for name, values in spec.filters:
            self.params[f"f_{name}"] = list(values)

    def sources(self) -> list[Source]:
        wanted = {source for base in self.bases for source in BASES[base]}
        return [s for s in ("clicks", "conversions", "fixed_cost") if s in wanted]

    def dimension(self, d: Dimension, ts: str) -> str:
        return d.sql(ts, self.spec.rollup)

    def conditions(self, ts: str) -> list[str]:
        where = ["workspace_id = {workspace:String}"]
        if self.spec.start is not None:
            where.append(f"{ts} >= {{start:{_TIME}}}")
        if self.spec.end is not None:
            where.append(f"{ts} < {{end:{_TIME}}}")
        for name, _ in self.spec.filters:
            d = DIMENSIONS[name]
            where.append(f"{self.dimension(d, ts)} IN {{f_{name}:Array({d.param_type})}}")
        return where

    def source(self, source: Source) -> str:
        rollup = self.rollup
        if source == "clicks":
            if rollup is None:
                aggregates, ts, table = _clicks_aggregates(self.spec), "ts", "clicks"
            else:
                aggregates, ts, table = _rollup_aggregates(self.spec), "bucket", rollup.table
            where = self.conditions(ts)
            if not self.spec.include_bots and "bot_clicks" not in self.bases:
                where.append("NOT is_bot")  # else bot-only groups would show as zero rows
        elif source == "conversions":
            aggregates, ts, table = _CONVERSION_AGGREGATES, "click_ts", "conversions_latest"
            if {"conversions", "held_conversions"} & set(self.bases):
                self.params["statuses"] = list(self.spec.statuses)
            if _CONVERTING & set(self.bases):
                if not self.spec.currency:
                    raise ParameterError("currency: the workspace currency is unknown, so "
                                         "payouts cannot be converted into it")
                self.params["currency"] = self.spec.currency
                table = CONVERSIONS
            where = ["counted", *self.conditions(ts)]
            if not self.spec.include_bots:
                where.append("NOT is_bot")
        elif rollup is None:
            aggregates, ts = _FIXED_AGGREGATES, "ts"
            table = (f"clicks\n    INNER JOIN (\n        {_FIXED_TOTALS}\n    )"
                     " AS totals USING (campaign_id)")
            where = [_FIXED_CAMPAIGNS, "kind = 'click'", "NOT is_bot",
                     "cost_model = 'fixed_total'", *self.conditions(ts)]
        else:
            aggregates, ts = _ROLLUP_FIXED_AGGREGATES, "bucket"
            table = (f"{rollup.table}\n    INNER JOIN (\n        {_ROLLUP_FIXED_TOTALS}\n"
                     "    ) AS totals USING (campaign_id)")
            where = [f"campaign_id IN (SELECT campaign_id FROM {FIXED_TERMS}"
                     " WHERE workspace_id = {workspace:String})",
                     "fixed_clicks > 0", "NOT is_bot", *self.conditions(ts)]
        select = [f"{self.dimension(d, ts)} AS g_{d.name}" for d in self.groups]
        for base in self.bases:
            zero = "toInt64(0)" if base in MONEY_BASES else "toUInt64(0)"
            select.append(f"{aggregates.get(base, zero)} AS n_{base}")
        keys = [f"g_{d.name}" for d in self.groups]
        if source == "fixed_cost":
            keys.append("campaign_id")  # the share is per campaign; summed above
        lines = [f"SELECT\n{_list(select, 1)}", f"FROM {table}",
                 "WHERE " + "\n      AND ".join(where)]
        if keys:
            lines.append("GROUP BY " + ", ".join(keys))
        return "\n".join(lines)

    def aggregate(self) -> str:
        sources = [self.source(s) for s in self.sources()]
        union = "\n    UNION ALL\n".join(_indent(s, 1) for s in sources)
        select = [f"g_{d.name} AS {d.name}" for d in self.groups]
        select += [f"sum(n_{base}) AS {base}" for base in self.bases]
        select += [f"{METRICS[m].sql()} AS {m}" for m in self.spec.metrics
                   if METRICS[m].formula]
        lines = [f"SELECT\n{_list(select, 1)}", f"FROM\n(\n{union}\n)"]
        if self.groups:
            lines.append("GROUP BY " + ", ".join(f"g_{d.name}" for d in self.groups))
        return "\n".join(lines)

    def order(self) -> list[Sort]:
        sorts = list(self.spec.sort)
        if not sorts:
            times = [Sort(n, False) for n in self.spec.group_by if n in TIME_DIMENSIONS]
            first = next((m for m in ("clicks", *self.spec.metrics) if m in self.spec.metrics),
                         None)
            sorts = times or ([Sort(first, True)] if first else [])
        named = {s.name for s in sorts}
        return sorts + [Sort(n, False) for n in self.spec.group_by if n not in named]

    def build(self) -> Query:
        columns: list[Column] = []
        select: list[str] = []
        joins: list[str] = []
        versioned = "graph_version" in self.spec.group_by
        for d in self.groups:
            select.append(f"r.{d.name} AS {d.name}")
            columns.append(Column(d.name, "dimension"))
            if d.names is None:
                continue
            alias = f"{d.name}_names"
            joins.append(f"LEFT JOIN (SELECT id, name FROM {d.names.latest}"
                         f" WHERE workspace_id = {{workspace:String}}) AS {alias}"
                         f" ON r.{d.name} = {alias}.id")
            select.append(f"{alias}.name AS {d.name}_name")
            columns.append(Column(f"{d.name}_name", "name"))
            if versioned:
                then = f"{d.name}_names_then"
                joins.append(f"LEFT JOIN (SELECT id, graph_version, name FROM {d.names.table}"
                             f" FINAL WHERE workspace_id = {{workspace:String}}) AS {then}"
                             f" ON r.{d.name} = {then}.id"
                             f" AND r.graph_version = {then}.graph_version")
                select.append(f"{then}.name AS {d.name}_name_then")
                columns.append(Column(f"{d.name}_name_then", "name"))
        for name in self.spec.metrics:
            metric = METRICS[name]
            select.append(f"r.{name} AS {name}")
            columns.append(Column(name, "metric", metric.kind, metric.places))
        order = ", ".join(f"{s.name} {'DESC' if s.descending else 'ASC'} NULLS LAST"
                          for s in self.order())
        self.params["limit"] = self.spec.limit
        self.params["offset"] = self.spec.offset
        lines = [f"SELECT\n{_list(select, 1)}",
                 f"FROM\n(\n{_indent(self.aggregate(), 1)}\n) AS r", *joins]
        if order:
            lines.append(f"ORDER BY {order}")
        lines.append("LIMIT {limit:UInt64} OFFSET {offset:UInt64}")
        return Query("\n".join(lines), self.params, tuple(columns))


def time_param(value: dt.datetime) -> str:
    """A UTC instant as a DateTime64(3) query parameter."""
    return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


def _list(items: list[str], depth: int) -> str:
    pad = _INDENT * depth
    return ",\n".join(pad + item for item in items)


def _indent(text: str, depth: int) -> str:
    pad = _INDENT * depth
    return "\n".join(pad + line if line else line for line in text.splitlines())


def build_query(spec: ReportSpec) -> Query:
    """The SQL, its parameters and the shape of its result rows for one report."""
    return _Builder(spec).build()
