"""The campaign graph (config.model) as rows of the control plane's tables.

`TABLES` names every table of the graph with its data columns in one order: the order of
the tuples `rows_of` makes, of the COPY into staging and of the comparisons in
control/merge.py. Each table belongs to one entity kind (a graph section); the child
tables of a kind (a campaign's rules, conditions, destinations and CTA offers; a funnel's
landers and offers; a workspace's domains) name their owner in `owner`.

Values are what a text COPY takes: JSON columns as JSON text, arrays as lists, the
schedule's instants as aware datetimes (config.values.to_epoch_ms, the function
validation compares them with, in the workspace time zone when the text has no offset).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

import orjson

from turnout.config import model
from turnout.config.model import DEFAULT_RULE_ID, Entity
from turnout.config.values import to_epoch_ms

Row = tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class Table:
    name: str
    kind: str  # the graph section whose entities own the rows
    columns: tuple[str, ...]
    key: tuple[str, ...]  # the primary key, a prefix-free subset of `columns`
    owner: str = "id"  # the column holding the owning entity's id

    @property
    def is_entity(self) -> bool:
        """The table of the entities themselves (not one of their parts)."""
        return self.owner == "id"


TABLES: Final[tuple[Table, ...]] = (
    Table("workspaces", "workspaces",
          ("id", "name", "timezone", "currency", "raw_ip", "fallback_url", "bot_ip_ranges",
           "pixel_key", "pixel_origins"), ("id",)),
    Table("workspace_domains", "workspaces", ("workspace_id", "position", "domain"),
          ("workspace_id", "position"), "workspace_id"),
    Table("traffic_sources", "traffic_sources",
          ("id", "workspace_id", "name", "tokens", "postback_url", "postback_statuses",
           "payout_percent", "postback_percent"), ("id",)),
    Table("networks", "networks",
          ("id", "workspace_id", "name", "secret", "hmac_key", "ip_allowlist", "statuses",
           "convert_other_offers"), ("id",)),
    Table("offers", "offers",
          ("id", "workspace_id", "name", "url", "network_id", "payout", "currency",
           "daily_cap", "fallback_offer_id", "daily_click_cap"), ("id",)),
    Table("landers", "landers", ("id", "workspace_id", "name", "url", "cta_count"), ("id",)),
    Table("funnels", "funnels", ("id", "workspace_id", "name"), ("id",)),
    Table("funnel_landers", "funnels", ("funnel_id", "position", "workspace_id", "lander_id"),
          ("funnel_id", "position"), "funnel_id"),
    Table("funnel_offers", "funnels", ("funnel_id", "position", "workspace_id", "offer_id"),
          ("funnel_id", "position"), "funnel_id"),
    Table("campaigns", "campaigns",
          ("id", "workspace_id", "name", "code", "parent_id", "traffic_source_id",
           "cost_model", "cost_value", "status", "schedule_start", "schedule_end",
           "starts_at", "ends_at", "budget", "redirect_mode", "allow_permanent", "bot_action",
           "bot_url", "inactive_action", "inactive_url", "attribution_window_days",
           "unique_window_hours", "archived_at", "budget_period", "budget_thresholds",
           "daily_click_cap", "daily_conversion_cap"), ("id",)),
    Table("rules", "campaigns",
          ("campaign_id", "id", "position", "workspace_id", "name", "priority"),
          ("campaign_id", "id"), "campaign_id"),
    Table("conditions", "campaigns",
          ("campaign_id", "rule_id", "position", "kind", "value_list", "negate", "param"),
          ("campaign_id", "rule_id", "position"), "campaign_id"),
    Table("destinations", "campaigns",
          ("campaign_id", "rule_id", "id", "position", "workspace_id", "weight", "kind",
           "offer_id", "lander_id", "funnel_id", "url", "paused"),
          ("campaign_id", "rule_id", "id"), "campaign_id"),
    Table("destination_offers", "campaigns",
          ("campaign_id", "rule_id", "destination_id", "position", "workspace_id", "kind",
           "offer_id"), ("campaign_id", "rule_id", "destination_id", "position"),
          "campaign_id"),
)
BY_NAME: Final = {table.name: table for table in TABLES}
# Graph sections in dependency order (what a row may reference comes first).
KINDS: Final[tuple[str, ...]] = tuple(name for name, _ in model.SECTIONS)
KIND_OF_TYPE: Final[dict[type[Entity], str]] = {cls: name for name, cls in model.SECTIONS}


def tables_of(kind: str) -> tuple[Table, ...]:
    """The entity table of `kind` first, then its part tables in dependency order."""
    return tuple(table for table in TABLES if table.kind == kind)


def kind_of(entity: Entity) -> str:
    try:
        return KIND_OF_TYPE[type(entity)]
    except KeyError:
        raise TypeError(f"not a graph entity: {type(entity).__name__}") from None


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()


def instant(text: str | None, timezone: str) -> datetime | None:
    """A schedule bound as an aware UTC datetime (ms precision, as validation compares)."""
    if text is None:
        return None
    return datetime.fromtimestamp(to_epoch_ms(text, timezone) / 1000, UTC)


class Rows:
    """Rows by table name, filled one entity at a time."""

    def __init__(self) -> None:
        self.by_table: dict[str, list[Row]] = {table.name: [] for table in TABLES}

    def add(self, entity: Entity, timezone: Callable[[str], str]) -> None:
        """`timezone(workspace_id)`: the time zone campaign schedules are read in."""
        _WRITERS[kind_of(entity)](self.by_table, entity, timezone)

    def __getitem__(self, table: str) -> list[Row]:
        return self.by_table[table]


def graph_rows(graph: model.Graph) -> Rows:
    """Every row of `graph`, each section in its order."""
    zones = {workspace.id: workspace.timezone for workspace in graph.workspaces}
    rows = Rows()
    for kind in KINDS:
        for entity in getattr(graph, kind):
            rows.add(entity, lambda workspace: zones.get(workspace, "UTC"))
    return rows


def _workspace(out: dict[str, list[Row]], w: model.Workspace, _: Callable[[str], str]) -> None:
    out["workspaces"].append((w.id, w.name, w.timezone, w.currency, w.raw_ip, w.fallback_url,
                              list(w.bot_ip_ranges), w.pixel_key, list(w.pixel_origins)))
    out["workspace_domains"].extend((w.id, i, domain) for i, domain in enumerate(w.domains))


def _source(out: dict[str, list[Row]], s: model.TrafficSource, _: Callable[[str], str]) -> None:
    out["traffic_sources"].append((s.id, s.workspace, s.name, _json(s.tokens), s.postback_url,
                                   list(s.postback_statuses), s.payout_percent,
                                   s.postback_percent))


def _network(out: dict[str, list[Row]], n: model.Network, _: Callable[[str], str]) -> None:
    out["networks"].append((n.id, n.workspace, n.name, n.secret, n.hmac_key,
                            list(n.ip_allowlist), _json(n.statuses), n.convert_other_offers))


def _offer(out: dict[str, list[Row]], o: model.Offer, _: Callable[[str], str]) -> None:
    out["offers"].append((o.id, o.workspace, o.name, o.url, o.network, o.payout, o.currency,
                          o.daily_cap, o.fallback_offer, o.daily_click_cap))


def _lander(out: dict[str, list[Row]], lander: model.Lander, _: Callable[[str], str]) -> None:
    out["landers"].append((lander.id, lander.workspace, lander.name, lander.url,
                           lander.cta_count))


def _funnel(out: dict[str, list[Row]], f: model.Funnel, _: Callable[[str], str]) -> None:
    out["funnels"].append((f.id, f.workspace, f.name))
    out["funnel_landers"].extend((f.id, i, f.workspace, lid) for i, lid in enumerate(f.landers))
    out["funnel_offers"].extend((f.id, i, f.workspace, oid) for i, oid in enumerate(f.offers))


def _campaign(out: dict[str, list[Row]], c: model.Campaign,
              timezone: Callable[[str], str]) -> None:
    zone = timezone(c.workspace)
    budget = c.budget if isinstance(c.budget, model.Budget) else None
    thresholds = (None if budget is None or budget.thresholds == model.DEFAULT_THRESHOLDS
                  else _json([{"at": t.at, "action": t.action} for t in budget.thresholds]))
    out["campaigns"].append((
        c.id, c.workspace, c.name, c.code, c.parent, c.traffic_source, c.cost_model.type,
        c.cost_model.value, c.status, c.schedule.start, c.schedule.end,
        instant(c.schedule.start, zone), instant(c.schedule.end, zone),
        c.budget if budget is None else budget.amount,
        _json(c.redirect_mode), c.allow_permanent, c.bot_policy.action, c.bot_policy.url,
        c.inactive.action, c.inactive.url, c.attribution_window_days, c.unique_window_hours,
        None, None if budget is None else budget.period, thresholds, c.daily_click_cap,
        c.daily_conversion_cap,
    ))
    rules, conditions = out["rules"], out["conditions"]
    for i, rule in enumerate(c.rules):
        rules.append((c.id, rule.id, i, c.workspace, rule.name, rule.priority))
        conditions.extend((c.id, rule.id, j, k.kind, _json(k.values), k.negate, k.param)
                          for j, k in enumerate(rule.conditions))
        _destinations(out, c, rule.id, rule.destinations)
    rules.append((c.id, DEFAULT_RULE_ID, None, c.workspace, "", None))
    _destinations(out, c, DEFAULT_RULE_ID, c.default)


_REF_COLUMN: Final = {"offer": 0, "lander": 1, "funnel": 2}


def _destinations(out: dict[str, list[Row]], c: model.Campaign, rule_id: str,
                  destinations: Sequence[model.Destination]) -> None:
    rows, ctas = out["destinations"], out["destination_offers"]
    for i, d in enumerate(destinations):
        refs: list[str | None] = [None, None, None]
        slot = _REF_COLUMN.get(d.kind)
        if slot is not None:
            refs[slot] = d.ref
        rows.append((c.id, rule_id, d.id, i, c.workspace, d.weight, d.kind, *refs, d.url,
                     d.paused))
        ctas.extend((c.id, rule_id, d.id, j, c.workspace, d.kind, offer)
                    for j, offer in enumerate(d.offers))


_WRITERS: Final[dict[str, Callable[..., None]]] = {
    "workspaces": _workspace,
    "traffic_sources": _source,
    "networks": _network,
    "offers": _offer,
    "landers": _lander,
    "funnels": _funnel,
    "campaigns": _campaign,
}


def owners(rows: Rows, kind: str) -> Iterator[str]:
    """The ids of the `kind` entities among `rows`."""
    entity = tables_of(kind)[0]
    index = entity.columns.index("id")
    return (row[index] for row in rows[entity.name])
