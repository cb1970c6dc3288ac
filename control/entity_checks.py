"""Validation of one entity write without reading the workspace's whole graph.

A write can only break what it touches: the entity itself, the references it makes, the
uniqueness of its code or credentials, a chain (parent, fallback offer) through it, and
the entities that refer to it. So `problems` runs config.validate over a small graph — the
workspace, the entity, the entities it names — and asks PostgreSQL the rest in a few
indexed queries; `referrers` and `cta_conflicts` find what a delete or a lander change
would break. With 10,000 campaigns stored a check reads a handful of rows, not 10,000.

Problem paths are relative to the entity body (`rules[1].destinations[0].weight`);
conflicts with other entities name them as `campaigns[camp-a].…`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

import psycopg

from turnout.config.errors import Problem
from turnout.config.model import Campaign, Entity, Funnel, Graph, Offer, Workspace
from turnout.config.validate import validate
from turnout.control.entity_docs import read_sets
from turnout.control.graph_rows import kind_of

MAX_NAMED: Final = 50  # referrers named in one refusal; the count says the rest


def references(entity: Entity) -> dict[str, set[str]]:
    """The ids `entity` names, by section (its own id left out)."""
    refs: dict[str, set[str]] = {}

    def add(kind: str, *ids: str | None) -> None:
        refs.setdefault(kind, set()).update(i for i in ids if i is not None)

    if isinstance(entity, Offer):
        add("networks", entity.network)
        add("offers", entity.fallback_offer)
    elif isinstance(entity, Funnel):
        add("landers", *entity.landers)
        add("offers", *entity.offers)
    elif isinstance(entity, Campaign):
        add("traffic_sources", entity.traffic_source)
        add("campaigns", entity.parent)
        for path in (*(rule.destinations for rule in entity.rules), entity.default):
            for d in path:
                if d.kind in ("offer", "lander", "funnel"):
                    add(f"{d.kind}s", d.ref)
                add("offers", *d.offers)
    own = refs.get(kind_of(entity))
    if own is not None:
        own.discard(entity.id)
    return {kind: ids for kind, ids in refs.items() if ids}


def relative(problems: Iterable[Problem], prefix: str) -> list[Problem]:
    """The problems under `prefix` (`campaigns[0]`), with paths relative to it."""
    out = []
    for p in problems:
        if p.path == prefix:
            out.append(Problem("", p.message))
        elif p.path.startswith(prefix + "."):
            out.append(Problem(p.path[len(prefix) + 1:], p.message))
    return out


def scoped_problems(workspace: Workspace, entity: Entity,
                    context: Mapping[str, Iterable[Entity]]) -> list[Problem]:
    """config.validate's problems of `entity`, judged within `workspace` and the entities
    of `context` (those it names): the ones full validation would report at it."""
    kind = kind_of(entity)
    sections: dict[str, tuple[Entity, ...]] = {k: tuple(v) for k, v in context.items()}
    sections[kind] = (entity, *(e for e in sections.get(kind, ()) if e.id != entity.id))
    sections["workspaces"] = (workspace,)
    return relative(validate(Graph(**sections)), f"{kind}[0]")


async def problems(conn: psycopg.AsyncConnection[Any], workspace: Workspace,
                   entity: Entity) -> list[Problem]:
    """Every problem writing `entity` into `workspace` would cause, paths relative to it."""
    found = await read_sets(conn, workspace.id, references(entity))
    context = {kind: [s.entity for s in stored.values()] for kind, stored in found.items()}
    out = scoped_problems(workspace, entity, context)
    if isinstance(entity, Campaign):
        out += await _code_problems(conn, workspace.id, entity)
        out += await _chain_problems(conn, "campaigns", "parent_id", entity.id,
                                     entity.parent, workspace.id, "parent")
    elif isinstance(entity, Offer):
        out += await _chain_problems(conn, "offers", "fallback_offer_id", entity.id,
                                     entity.fallback_offer, workspace.id, "fallback_offer")
    elif kind_of(entity) == "networks":
        out += await _credential_problems(conn, entity)
    return list(dict.fromkeys(out))


_CODE_TAKEN: Final = """
SELECT c.id, c.workspace_id = %(workspace)s, c.archived_at IS NOT NULL FROM campaigns c
WHERE c.code = %(code)s AND c.id <> %(id)s AND (
    c.workspace_id = %(workspace)s
    OR (NOT EXISTS (SELECT 1 FROM workspace_domains d WHERE d.workspace_id = %(workspace)s)
        AND NOT EXISTS (SELECT 1 FROM workspace_domains d WHERE d.workspace_id = c.workspace_id)))
ORDER BY 2 DESC LIMIT 1
"""


async def _code_problems(conn: psycopg.AsyncConnection[Any], workspace_id: str,
                         campaign: Campaign) -> list[Problem]:
    """Codes are unique per tracking domain, archived campaigns' included (their clicks
    keep naming them); another workspace's campaign is not named."""
    cursor = await conn.execute(_CODE_TAKEN, {"code": campaign.code, "id": campaign.id,
                                              "workspace": workspace_id})
    row = await cursor.fetchone()
    if row is None:
        return []
    other, same_workspace, archived = row
    if not same_workspace:
        return [Problem("code", f"tracking code {campaign.code!r} is already used on the "
                                "shared default domain: choose another")]
    kept = " (archived: its code stays with its clicks)" if archived else ""
    return [Problem("code", f"tracking code {campaign.code!r} is already used by campaign "
                            f"{other!r}{kept}")]


_CHAIN: Final = """
WITH RECURSIVE chain(id, next, depth) AS (
    SELECT id, {column}, 1 FROM {table} WHERE id = %(start)s AND workspace_id = %(workspace)s
    UNION
    SELECT t.id, t.{column}, chain.depth + 1 FROM {table} t JOIN chain ON t.id = chain.next
    WHERE chain.next <> %(self)s AND chain.depth < 10000
)
SELECT id, next FROM chain ORDER BY depth
"""


async def _chain_problems(conn: psycopg.AsyncConnection[Any], table: str, column: str,
                          self_id: str, start: str | None, workspace_id: str, field: str
                          ) -> list[Problem]:
    """A cycle the entity's new link would close: its chain coming back to it."""
    if start is None or start == self_id:
        return []
    cursor = await conn.execute(_CHAIN.format(table=table, column=column),
                                {"start": start, "self": self_id, "workspace": workspace_id})
    return _cycle(await cursor.fetchall(), self_id, field)


def _cycle(chain: list[tuple[str, str | None]], self_id: str, field: str) -> list[Problem]:
    if not chain or chain[-1][1] != self_id:
        return []
    return [Problem(field, "cycle: " + " -> ".join([self_id, *(i for i, _ in chain), self_id]))]


_CREDENTIAL_TAKEN: Final = """
SELECT 'secret' FROM networks WHERE id <> %(id)s
    AND (secret = %(secret)s OR hmac_key = %(secret)s)
UNION ALL SELECT 'secret' FROM workspaces WHERE pixel_key = %(secret)s
UNION ALL SELECT 'hmac_key' FROM networks WHERE id <> %(id)s AND %(hmac)s::text IS NOT NULL
    AND (secret = %(hmac)s OR hmac_key = %(hmac)s)
UNION ALL SELECT 'hmac_key' FROM workspaces WHERE pixel_key = %(hmac)s
"""


async def _credential_problems(conn: psycopg.AsyncConnection[Any], network: Any
                               ) -> list[Problem]:
    """Secrets and signing keys are unique across every workspace (config/credentials.py);
    the other holder is not named, it may be another workspace's."""
    cursor = await conn.execute(_CREDENTIAL_TAKEN, {"id": network.id, "secret": network.secret,
                                                    "hmac": network.hmac_key})
    fields = sorted({row[0] for row in await cursor.fetchall()})
    return [Problem(field, "already used by another network or pixel key: every secret, "
                           "signing key and pixel key must be different") for field in fields]


_USED_BY_PATHS: Final = ("SELECT d.campaign_id, 'destinations', c.archived_at IS NOT NULL "
                         "FROM {table} d JOIN campaigns c ON c.id = d.campaign_id "
                         "WHERE d.{column} = %(id)s")
# What refers to an entity of each kind: (referring kind, SQL giving its ids and a path).
_REFERRERS: Final[dict[str, tuple[tuple[str, str], ...]]] = {
    "traffic_sources": (
        ("campaigns", "SELECT id, 'traffic_source', archived_at IS NOT NULL FROM campaigns "
                      "WHERE traffic_source_id = %(id)s"),
    ),
    "networks": (
        ("offers", "SELECT id, 'network', false FROM offers WHERE network_id = %(id)s"),
    ),
    "offers": (
        ("offers", "SELECT id, 'fallback_offer', false FROM offers "
                   "WHERE fallback_offer_id = %(id)s"),
        ("funnels", "SELECT funnel_id, 'offers', false FROM funnel_offers "
                    "WHERE offer_id = %(id)s"),
        ("campaigns", _USED_BY_PATHS.format(table="destinations", column="offer_id")
         + " UNION ALL "
         + _USED_BY_PATHS.format(table="destination_offers", column="offer_id")),
    ),
    "landers": (
        ("funnels", "SELECT funnel_id, 'landers', false FROM funnel_landers "
                    "WHERE lander_id = %(id)s"),
        ("campaigns", _USED_BY_PATHS.format(table="destinations", column="lander_id")),
    ),
    "funnels": (
        ("campaigns", _USED_BY_PATHS.format(table="destinations", column="funnel_id")),
    ),
    "campaigns": (
        ("campaigns", "SELECT id, 'parent', archived_at IS NOT NULL FROM campaigns "
                      "WHERE parent_id = %(id)s"),
    ),
}
_SINGULAR: Final = {"traffic_sources": "traffic source", "networks": "network",
                    "offers": "offer", "landers": "lander", "funnels": "funnel",
                    "campaigns": "campaign"}


@dataclass(frozen=True, slots=True)
class Referrer:
    """An entity naming another one: its kind, id, the field naming it, and whether it is
    an archived campaign (kept, with its traffic source and parent, for its clicks)."""

    kind: str
    id: str
    field: str
    archived: bool = False

    def error(self, what: str) -> tuple[str, str]:
        kept = "the archived campaign (kept for its clicks) " if self.archived else ""
        return f"{self.kind}[{self.id}].{self.field}", f"{kept}names {what}"


async def referrers(conn: psycopg.AsyncConnection[Any], kind: str, entity_id: str
                    ) -> list[Referrer]:
    """Every entity that names this one, live ones first."""
    found: list[Referrer] = []
    for referring, query in _REFERRERS[kind]:
        cursor = await conn.execute(query, {"id": entity_id})
        seen: dict[str, Referrer] = {}
        for other, field, archived in await cursor.fetchall():
            seen.setdefault(other, Referrer(referring, other, field, archived))
        found.extend(seen[other] for other in sorted(seen))
    return sorted(found, key=lambda r: r.archived)


def in_use(kind: str, entity_id: str, found: list[Referrer]) -> tuple[str, list[tuple[str, str]]]:
    """The reason and the (capped) errors of a refusal to delete an entity `found` name."""
    what = f"{_SINGULAR[kind]} {entity_id!r}"
    reason = (f"{what} is in use by {len(found)} entit{'y' if len(found) == 1 else 'ies'}: "
              "change or delete those first")
    errors = [r.error(what) for r in found[:MAX_NAMED]]
    if len(found) > MAX_NAMED:
        errors.append(("", f"and {len(found) - MAX_NAMED} more"))
    return reason, errors


_CTA_MISFITS: Final = """
SELECT 'funnels', f.funnel_id, NULL::int, NULL::int, f.offers
FROM (SELECT l.funnel_id,
             (SELECT count(*) FROM funnel_offers o WHERE o.funnel_id = l.funnel_id) AS offers
      FROM funnel_landers l
      WHERE l.lander_id = %(id)s AND l.position = (
          SELECT max(position) FROM funnel_landers m WHERE m.funnel_id = l.funnel_id)) f
WHERE f.offers <> %(ctas)s
UNION ALL
SELECT 'campaigns', d.campaign_id, r.position, d.position,
       (SELECT count(*) FROM destination_offers x WHERE x.campaign_id = d.campaign_id
           AND x.rule_id = d.rule_id AND x.destination_id = d.id)
FROM destinations d JOIN rules r ON r.campaign_id = d.campaign_id AND r.id = d.rule_id
JOIN campaigns c ON c.id = d.campaign_id AND c.archived_at IS NULL
WHERE d.lander_id = %(id)s AND (SELECT count(*) FROM destination_offers x
    WHERE x.campaign_id = d.campaign_id AND x.rule_id = d.rule_id
      AND x.destination_id = d.id) <> %(ctas)s
ORDER BY 1, 2, 3, 4
"""


async def cta_conflicts(conn: psycopg.AsyncConnection[Any], lander_id: str, cta_count: int
                        ) -> list[tuple[str, str]]:
    """Funnels ending on the lander and campaign destinations showing it whose CTA offers
    would no longer match a `cta_count` of CTAs."""
    cursor = await conn.execute(_CTA_MISFITS, {"id": lander_id, "ctas": cta_count})
    out = []
    for kind, owner, rule_position, position, offers in await cursor.fetchall():
        if kind == "funnels":
            path = f"funnels[{owner}].offers"
        elif rule_position is None:  # the default path
            path = f"campaigns[{owner}].default[{position}].offers"
        else:
            path = f"campaigns[{owner}].rules[{rule_position}].destinations[{position}].offers"
        out.append((path, f"gives {offers} offer(s) for lander {lander_id!r}, which would "
                          f"have {cta_count} CTA(s)"))
    return out
