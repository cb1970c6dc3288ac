"""The control plane's tables as the campaign graph: `read_graph` and `read_entity`.

PostgreSQL nests each section into the JSON of config.model (json_agg over the part
tables, grouped once per table, not per entity), and msgspec decodes it straight into the
model's structs, so what comes back is the model exactly, checked field by field. Entities
come in insertion order (`seq`), their parts in position order; archived campaigns are
not part of the graph.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any, Final

import msgspec
import psycopg

from turnout.config import model
from turnout.config.model import Entity, Graph
from turnout.control.graph_rows import BY_NAME, KINDS
from turnout.gc_pause import paused_gc

_WORKSPACES: Final = """
SELECT coalesce(json_agg(json_build_object(
    'id', e.id, 'name', e.name, 'timezone', e.timezone, 'currency', e.currency,
    'raw_ip', e.raw_ip, 'fallback_url', e.fallback_url, 'bot_ip_ranges', e.bot_ip_ranges::text[],
    'pixel_key', e.pixel_key, 'pixel_origins', e.pixel_origins,
    'domains', coalesce(d.list, '[]')) ORDER BY e.seq), '[]')
FROM workspaces e
LEFT JOIN (SELECT workspace_id, json_agg(domain ORDER BY position) AS list
           FROM workspace_domains GROUP BY workspace_id) d ON d.workspace_id = e.id
WHERE {where}
"""

_TRAFFIC_SOURCES: Final = """
SELECT coalesce(json_agg(json_build_object(
    'id', e.id, 'workspace', e.workspace_id, 'name', e.name, 'tokens', e.tokens,
    'postback_url', e.postback_url, 'postback_statuses', e.postback_statuses,
    'payout_percent', e.payout_percent::text, 'postback_percent', e.postback_percent::text)
    ORDER BY e.seq), '[]')
FROM traffic_sources e WHERE {where}
"""

_NETWORKS: Final = """
SELECT coalesce(json_agg(json_build_object(
    'id', e.id, 'workspace', e.workspace_id, 'name', e.name, 'secret', e.secret,
    'hmac_key', e.hmac_key, 'ip_allowlist', e.ip_allowlist::text[], 'statuses', e.statuses,
    'convert_other_offers', e.convert_other_offers) ORDER BY e.seq), '[]')
FROM networks e WHERE {where}
"""

_OFFERS: Final = """
SELECT coalesce(json_agg(json_build_object(
    'id', e.id, 'workspace', e.workspace_id, 'name', e.name, 'url', e.url,
    'network', e.network_id, 'payout', e.payout::text, 'currency', e.currency,
    'daily_cap', e.daily_cap, 'fallback_offer', e.fallback_offer_id,
    'daily_click_cap', e.daily_click_cap) ORDER BY e.seq), '[]')
FROM offers e WHERE {where}
"""

_LANDERS: Final = """
SELECT coalesce(json_agg(json_build_object(
    'id', e.id, 'workspace', e.workspace_id, 'name', e.name, 'url', e.url,
    'cta_count', e.cta_count) ORDER BY e.seq), '[]')
FROM landers e WHERE {where}
"""

_FUNNELS: Final = """
SELECT coalesce(json_agg(json_build_object(
    'id', e.id, 'workspace', e.workspace_id, 'name', e.name,
    'landers', coalesce(l.list, '[]'), 'offers', coalesce(o.list, '[]')) ORDER BY e.seq), '[]')
FROM funnels e
LEFT JOIN (SELECT funnel_id, json_agg(lander_id ORDER BY position) AS list
           FROM funnel_landers GROUP BY funnel_id) l ON l.funnel_id = e.id
LEFT JOIN (SELECT funnel_id, json_agg(offer_id ORDER BY position) AS list
           FROM funnel_offers GROUP BY funnel_id) o ON o.funnel_id = e.id
WHERE {where}
"""

# The default path is the rule 'default' (position NULL); the rules are the others.
_CAMPAIGNS: Final = """
WITH picked AS (
    SELECT e.* FROM campaigns e WHERE e.archived_at IS NULL AND {where}
), ctas AS (
    SELECT campaign_id, rule_id, destination_id, json_agg(offer_id ORDER BY position) AS list
    FROM destination_offers WHERE campaign_id IN (SELECT id FROM picked)
    GROUP BY campaign_id, rule_id, destination_id
), paths AS (
    SELECT d.campaign_id, d.rule_id, json_agg(json_build_object(
        'id', d.id, 'weight', d.weight, 'kind', d.kind,
        'ref', coalesce(d.offer_id, d.lander_id, d.funnel_id), 'url', d.url,
        'offers', coalesce(x.list, '[]'), 'paused', d.paused) ORDER BY d.position) AS list
    FROM destinations d
    LEFT JOIN ctas x
        ON x.campaign_id = d.campaign_id AND x.rule_id = d.rule_id AND x.destination_id = d.id
    WHERE d.campaign_id IN (SELECT id FROM picked)
    GROUP BY d.campaign_id, d.rule_id
), tests AS (
    SELECT campaign_id, rule_id, json_agg(json_build_object(
        'kind', kind, 'values', value_list, 'negate', negate, 'param', param)
        ORDER BY position) AS list
    FROM conditions WHERE campaign_id IN (SELECT id FROM picked)
    GROUP BY campaign_id, rule_id
), routes AS (
    SELECT r.campaign_id,
        coalesce(json_agg(json_build_object(
            'id', r.id, 'name', r.name, 'priority', r.priority,
            'conditions', coalesce(t.list, '[]'), 'destinations', coalesce(p.list, '[]'))
            ORDER BY r.position) FILTER (WHERE r.position IS NOT NULL), '[]') AS rules,
        (json_agg(p.list) FILTER (WHERE r.position IS NULL AND p.list IS NOT NULL)) -> 0
            AS default_path
    FROM rules r
    LEFT JOIN tests t ON t.campaign_id = r.campaign_id AND t.rule_id = r.id
    LEFT JOIN paths p ON p.campaign_id = r.campaign_id AND p.rule_id = r.id
    WHERE r.campaign_id IN (SELECT id FROM picked)
    GROUP BY r.campaign_id
)
SELECT coalesce(json_agg(json_build_object(
    'id', e.id, 'workspace', e.workspace_id, 'name', e.name, 'code', e.code,
    'parent', e.parent_id, 'traffic_source', e.traffic_source_id,
    'cost_model', json_build_object('type', e.cost_model, 'value', e.cost_value::text),
    'status', e.status,
    'schedule', json_build_object('start', e.schedule_start, 'end', e.schedule_end),
    'budget', campaign_budget_json(e.budget, e.budget_period, e.budget_thresholds),
    'daily_click_cap', e.daily_click_cap, 'daily_conversion_cap', e.daily_conversion_cap,
    'redirect_mode', e.redirect_mode, 'allow_permanent', e.allow_permanent,
    'bot_policy', json_build_object('action', e.bot_action, 'url', e.bot_url),
    'inactive', json_build_object('action', e.inactive_action, 'url', e.inactive_url),
    'attribution_window_days', e.attribution_window_days,
    'unique_window_hours', e.unique_window_hours,
    'rules', coalesce(r.rules, '[]'), 'default', coalesce(r.default_path, '[]'))
    ORDER BY e.seq), '[]')
FROM picked e LEFT JOIN routes r ON r.campaign_id = e.id
"""

SECTION_SQL: Final[dict[str, str]] = {
    "workspaces": _WORKSPACES,
    "traffic_sources": _TRAFFIC_SOURCES,
    "networks": _NETWORKS,
    "offers": _OFFERS,
    "landers": _LANDERS,
    "funnels": _FUNNELS,
    "campaigns": _CAMPAIGNS,
}
_GRAPH: Final = msgspec.json.Decoder(Graph)
_ENTITIES: Final = {name: msgspec.json.Decoder(tuple[cls, ...]) for name, cls in model.SECTIONS}


def _filter(kind: str, workspace_ids: Collection[str] | None, entity_id: str | None,
            entity_ids: Collection[str] | None = None) -> tuple[str, dict[str, Any]]:
    clauses, params = ["true"], {}
    if entity_ids is not None:
        clauses.append(f"e.id = ANY(%(ids_{kind})s::text[])")
        params[f"ids_{kind}"] = list(entity_ids)
    if workspace_ids is not None:
        column = "e.id" if kind == "workspaces" else "e.workspace_id"
        clauses.append(f"{column} = ANY(%(workspaces)s::text[])")
        params["workspaces"] = list(workspace_ids)
    if entity_id is not None:
        clauses.append("e.id = %(id)s")
        params["id"] = entity_id
    return " AND ".join(clauses), params


def _section(kind: str, workspace_ids: Collection[str] | None = None,
             entity_id: str | None = None, entity_ids: Collection[str] | None = None
             ) -> tuple[str, dict[str, Any]]:
    where, params = _filter(kind, workspace_ids, entity_id, entity_ids)
    return SECTION_SQL[kind].format(where=where), params


async def read_graph(conn: psycopg.AsyncConnection[Any],
                     workspace_ids: Collection[str] | None = None) -> Graph:
    """The graph stored (of the given workspaces only, when named), in one statement."""
    parts, params = [], {}
    for kind in KINDS:
        query, params = _section(kind, workspace_ids)  # the same parameters for each
        parts.append(f"'{kind}', ({query})")
    statement = "SELECT json_build_object(" + ", ".join(parts) + ")::text"
    async with conn.transaction():
        # The sorts of json_agg over every destination would spill at the default 4 MB.
        await conn.execute("SET LOCAL work_mem = '64MB'")
        row = await (await conn.execute(statement, params)).fetchone()
    assert row is not None
    with paused_gc():  # 450,000 structs at 10,000 campaigns: 5x faster without it
        return _GRAPH.decode(row[0])


async def read_sections(conn: psycopg.AsyncConnection[Any],
                        ids: Mapping[str, Collection[str]]) -> Graph:
    """The stored entities of the given ids (by section), as a graph of only them, in one
    statement; ids with no entity (deleted, or an archived campaign) are left out."""
    parts, params = [], {}
    for kind in KINDS:
        if ids.get(kind):
            query, found = _section(kind, entity_ids=ids[kind])
            parts.append(f"'{kind}', ({query})")
            params.update(found)
    if not parts:
        return Graph()
    statement = "SELECT json_build_object(" + ", ".join(parts) + ")::text"
    row = await (await conn.execute(statement, params)).fetchone()
    assert row is not None
    return _GRAPH.decode(row[0])


async def read_entity(conn: psycopg.AsyncConnection[Any], kind: str, entity_id: str
                      ) -> tuple[Entity, int] | None:
    """One entity of section `kind` (`campaigns`, ...) and its revision; None when there
    is none (or, for a campaign, it is archived)."""
    query, params = _section(kind, entity_id=entity_id)
    table = BY_NAME[kind].name
    statement = f"SELECT ({query})::text, (SELECT revision FROM {table} WHERE id = %(id)s)"
    row = await (await conn.execute(statement, params)).fetchone()
    assert row is not None
    found = _ENTITIES[kind].decode(row[0])
    return (found[0], int(row[1])) if found else None
