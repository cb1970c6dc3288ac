"""Automation rules (SPEC §11): "when METRIC OP VALUE over the last N hours with at least M
clicks, for SCOPE do ACTION", stored per workspace with their targets.

The admin API and the governor both call these. A write is one transaction (the caller's)
with its If-Match check, every problem of the body reported at once by its path
(GraphInvalid, as entity writes report theirs), and its audit row. Targets must exist in
the rule's workspace: the schema's composite foreign keys say so too, for campaigns,
offers and landers; a destination is checked here, as rules are rewritten with their
campaign and cannot be referenced by a foreign key.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Final, Literal

import msgspec
import psycopg
from psycopg.rows import dict_row

from turnout.config.errors import GraphInvalid, Problem
from turnout.config.model import DEFAULT_RULE_ID
from turnout.control import audit
from turnout.control.entities import Actor
from turnout.control.entity_errors import EntityConflict, EntityNotFound
from turnout.control.graph_write import StaleRevision

KIND: Final = "automation_rule"  # entity_kind of the audit rows
METRICS: Final = ("roi", "cr", "epc", "cpa", "cost", "profit", "clicks", "conversions")
OPS: Final = ("<", "<=", ">", ">=", "=")
SCOPES: Final = ("campaign", "offer", "lander", "destination")
ACTIONS: Final = ("pause", "activate", "set_weight", "notify")
MAX_TARGETS: Final = 1000
# Which Target fields each scope takes (all required).
SCOPE_FIELDS: Final[dict[str, tuple[str, ...]]] = {
    "campaign": ("campaign",), "offer": ("offer",), "lander": ("lander",),
    "destination": ("campaign", "rule", "destination"),
}
_TARGET_FIELDS: Final = ("campaign", "offer", "lander", "rule", "destination")

Slug = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
Metric = Literal["roi", "cr", "epc", "cpa", "cost", "profit", "clicks", "conversions"]
Op = Literal["<", "<=", ">", ">=", "="]
Scope = Literal["campaign", "offer", "lander", "destination"]
Action = Literal["pause", "activate", "set_weight", "notify"]


class Target(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, omit_defaults=True,
             frozen=True):
    """One item a rule judges: `{campaign}`, `{offer}`, `{lander}`, or for scope
    destination `{campaign, rule, destination}` (rule `default`: the default path)."""

    campaign: Slug | None = None
    offer: Slug | None = None
    lander: Slug | None = None
    rule: Slug | None = None
    destination: Slug | None = None

    def key(self, scope: str) -> str:
        """The item as one string: `campaign:ID`, ..., `destination:CAMPAIGN/RULE/DEST`."""
        return f"{scope}:" + "/".join(str(getattr(self, f)) for f in SCOPE_FIELDS[scope])


class RuleFields(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    """An automation rule as written (POST, PUT)."""

    id: Slug
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    metric: Metric
    op: Op
    value: Decimal
    """In the metric's unit: percent for roi and cr, the workspace currency for epc, cpa,
    cost and profit, a count for clicks and conversions."""
    window_hours: Annotated[int, msgspec.Meta(ge=1, le=2160)]
    scope: Scope
    targets: Annotated[list[Target], msgspec.Meta(min_length=1, max_length=MAX_TARGETS)]
    action: Action
    weight: Annotated[int, msgspec.Meta(ge=0)] | None = None
    """The weight `set_weight` sets; only with that action."""
    min_clicks: Annotated[int, msgspec.Meta(ge=0)] = 0
    cooldown_minutes: Annotated[int, msgspec.Meta(ge=0, le=525_600)] = 60
    enabled: bool = True
    dry_run: bool = False
    workspace: Slug | None = None
    """Optional; when given, the key's workspace."""
    revision: int | None = None
    """Optional on PUT; when given, the If-Match one (so a GET's answer can be sent back)."""


class Rule(msgspec.Struct, kw_only=True, frozen=True):
    """An automation rule as stored and shown."""

    id: str
    workspace: str
    name: str
    metric: Metric
    op: Op
    value: Decimal
    window_hours: int
    scope: Scope
    targets: list[Target]
    action: Action
    weight: int | None
    min_clicks: int
    cooldown_minutes: int
    enabled: bool
    dry_run: bool
    revision: int

    def audited(self) -> dict[str, Any]:
        shown: dict[str, Any] = msgspec.to_builtins(self)
        del shown["revision"]
        return shown


class RuleList(msgspec.Struct, kw_only=True):
    items: list[Rule]


_COLUMNS: Final = ("id, workspace_id AS workspace, name, metric, op, value, window_hours, "
                   "scope, action, weight, min_clicks, cooldown_minutes, enabled, dry_run, "
                   "revision")


def _shape_problems(fields: RuleFields, workspace_id: str) -> list[Problem]:
    """What is wrong with `fields` on its own (the schema decoded it already)."""
    found: list[Problem] = []
    if fields.workspace is not None and fields.workspace != workspace_id:
        found.append(Problem("workspace", f"must be this key's workspace {workspace_id!r} "
                                          "(or left out)"))
    if not fields.value.is_finite() or abs(fields.value) >= Decimal("1e15"):
        found.append(Problem("value", "must be a finite number below 1e15 in size"))
    elif -fields.value.as_tuple().exponent > 6:  # type: ignore[operator]
        found.append(Problem("value", "at most 6 decimal places"))
    if fields.action == "set_weight" and fields.weight is None:
        found.append(Problem("weight", "required with action set_weight"))
    if fields.action != "set_weight" and fields.weight is not None:
        found.append(Problem("weight", "only with action set_weight"))
    if fields.action == "set_weight" and fields.scope == "campaign":
        found.append(Problem("action", "a campaign has no weight: set_weight takes scope "
                                       "offer, lander or destination"))
    wanted = SCOPE_FIELDS[fields.scope]
    seen: dict[str, int] = {}
    for i, target in enumerate(fields.targets):
        for name in _TARGET_FIELDS:
            given = getattr(target, name) is not None
            if name in wanted and not given:
                found.append(Problem(f"targets[{i}].{name}",
                                     f"required for scope {fields.scope}"))
            elif name not in wanted and given:
                found.append(Problem(f"targets[{i}].{name}",
                                     f"not a field of scope {fields.scope} (it takes "
                                     f"{', '.join(wanted)})"))
        key = target.key(fields.scope)
        if key in seen:
            found.append(Problem(f"targets[{i}]", f"the same as targets[{seen[key]}]"))
        seen.setdefault(key, i)
    return found


def _path_name(rule_id: str) -> str:
    return "its default path" if rule_id == DEFAULT_RULE_ID else f"rule {rule_id!r}"


async def _missing_targets(conn: psycopg.AsyncConnection[Any], workspace_id: str,
                           fields: RuleFields) -> list[Problem]:
    """A problem for every target not in the workspace (another workspace's is missing)."""
    scope = fields.scope
    if scope == "destination":
        triples = [(t.campaign, t.rule, t.destination) for t in fields.targets]
        cursor = await conn.execute(
            "SELECT d.campaign_id, d.rule_id, d.id FROM destinations d "
            "JOIN campaigns c ON c.id = d.campaign_id AND c.archived_at IS NULL "
            "JOIN unnest(%s::text[], %s::text[], %s::text[]) AS t(c, r, d) "
            "ON d.campaign_id = t.c AND d.rule_id = t.r AND d.id = t.d "
            "WHERE d.workspace_id = %s",
            ([c for c, _, _ in triples], [r for _, r, _ in triples],
             [d for _, _, d in triples], workspace_id))
        present = {tuple(row) for row in await cursor.fetchall()}
        return [Problem(f"targets[{i}]", f"campaign {c!r} has no destination {d!r} in "
                                         f"{_path_name(str(r))}")
                for i, (c, r, d) in enumerate(triples) if (c, r, d) not in present]
    table = {"campaign": "campaigns", "offer": "offers", "lander": "landers"}[scope]
    archived = " AND archived_at IS NULL" if scope == "campaign" else ""
    ids = [getattr(t, scope) for t in fields.targets]
    cursor = await conn.execute(
        f"SELECT id FROM {table} WHERE workspace_id = %s AND id = ANY(%s){archived}",
        (workspace_id, ids))
    present_ids = {row[0] for row in await cursor.fetchall()}
    return [Problem(f"targets[{i}].{scope}", f"no {scope} {entity!r} in this workspace")
            for i, entity in enumerate(ids) if entity not in present_ids]


async def _check(conn: psycopg.AsyncConnection[Any], workspace_id: str,
                 fields: RuleFields) -> None:
    found = _shape_problems(fields, workspace_id)
    if not any(p.path.startswith("targets") for p in found):
        found += await _missing_targets(conn, workspace_id, fields)
    if found:
        raise GraphInvalid(found)


async def _targets(conn: psycopg.AsyncConnection[Any], workspace_id: str,
                   rule_ids: list[str]) -> dict[str, list[Target]]:
    cursor = await conn.execute(
        "SELECT automation_rule_id, campaign_id, offer_id, lander_id, path_rule_id, "
        "destination_id FROM automation_rule_targets WHERE workspace_id = %s AND "
        "automation_rule_id = ANY(%s) ORDER BY automation_rule_id, position",
        (workspace_id, rule_ids))
    found: dict[str, list[Target]] = {rule_id: [] for rule_id in rule_ids}
    for rule_id, campaign, offer, lander, rule, destination in await cursor.fetchall():
        found[rule_id].append(Target(campaign=campaign, offer=offer, lander=lander, rule=rule,
                                     destination=destination))
    return found


async def _rules(conn: psycopg.AsyncConnection[Any], where: str, args: tuple[Any, ...],
                 workspace_id: str) -> list[Rule]:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(f"SELECT {_COLUMNS} FROM automation_rules WHERE {where} "
                          "ORDER BY id", args)
        rows = await cur.fetchall()
    targets = await _targets(conn, workspace_id, [row["id"] for row in rows])
    return [Rule(**row, targets=targets[row["id"]]) for row in rows]


async def list_rules(conn: psycopg.AsyncConnection[Any], workspace_id: str) -> list[Rule]:
    """The workspace's rules, by id."""
    return await _rules(conn, "workspace_id = %s", (workspace_id,), workspace_id)


async def read(conn: psycopg.AsyncConnection[Any], workspace_id: str, rule_id: str, *,
               lock: bool = False) -> Rule:
    """One rule of the workspace (EntityNotFound for any other, another workspace's too)."""
    if lock:
        await conn.execute("SELECT 1 FROM automation_rules WHERE workspace_id = %s AND id = %s"
                           " FOR UPDATE", (workspace_id, rule_id))
    found = await _rules(conn, "workspace_id = %s AND id = %s", (workspace_id, rule_id),
                         workspace_id)
    if not found:
        raise EntityNotFound("automation rule", rule_id)
    return found[0]


async def _write_targets(conn: psycopg.AsyncConnection[Any], workspace_id: str,
                         fields: RuleFields) -> None:
    await conn.execute("DELETE FROM automation_rule_targets WHERE workspace_id = %s AND "
                       "automation_rule_id = %s", (workspace_id, fields.id))
    async with conn.cursor() as cur:
        await cur.executemany(
            "INSERT INTO automation_rule_targets (workspace_id, automation_rule_id, position, "
            "scope, campaign_id, offer_id, lander_id, path_rule_id, destination_id) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
            [(workspace_id, fields.id, i, fields.scope, t.campaign, t.offer, t.lander, t.rule,
              t.destination) for i, t in enumerate(fields.targets)])


def _values(fields: RuleFields) -> tuple[Any, ...]:
    return (fields.name, fields.metric, fields.op, fields.value, fields.window_hours,
            fields.scope, fields.action, fields.weight, fields.min_clicks,
            fields.cooldown_minutes, fields.enabled, fields.dry_run)


async def _record(conn: psycopg.AsyncConnection[Any], who: Actor, action: str, rule_id: str,
                  before: Rule | None, after: Rule | None) -> None:
    await audit.record(conn, workspace_id=who.workspace_id, actor=who.actor, action=action,
                       entity_kind=KIND, entity_id=rule_id,
                       before=None if before is None else before.audited(),
                       after=None if after is None else after.audited(),
                       request_id=who.request_id)


async def create(conn: psycopg.AsyncConnection[Any], who: Actor, fields: RuleFields) -> Rule:
    async with conn.transaction():
        await _check(conn, who.workspace_id, fields)
        cursor = await conn.execute(
            "INSERT INTO automation_rules (workspace_id, id, name, metric, op, value, "
            "window_hours, scope, action, weight, min_clicks, cooldown_minutes, enabled, "
            "dry_run) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
            "ON CONFLICT DO NOTHING RETURNING id", (who.workspace_id, fields.id, *_values(fields)))
        if await cursor.fetchone() is None:
            why = f"{fields.id!r} already exists (PUT replaces it)"
            raise EntityConflict(why, [("id", why)])
        await _write_targets(conn, who.workspace_id, fields)
        rule = await read(conn, who.workspace_id, fields.id)
        await _record(conn, who, "create", rule.id, None, rule)
    return rule


def _same(rule: Rule, fields: RuleFields) -> bool:
    return (rule.name, rule.metric, rule.op, rule.value, rule.window_hours, rule.scope,
            rule.action, rule.weight, rule.min_clicks, rule.cooldown_minutes, rule.enabled,
            rule.dry_run, rule.targets) == (*_values(fields), fields.targets)


async def replace(conn: psycopg.AsyncConnection[Any], who: Actor, rule_id: str,
                  fields: RuleFields, expected: int) -> Rule:
    """PUT: the rule becomes `fields`; unchanged, it keeps its revision and leaves no
    audit row. Its cooldowns and history stay."""
    async with conn.transaction():
        before = await read(conn, who.workspace_id, rule_id, lock=True)
        if before.revision != expected:
            raise StaleRevision(KIND, rule_id, before.revision)
        problems = [] if fields.id == rule_id else [Problem(
            "id", f"must be {rule_id!r}, the id in the path (an id cannot change)")]
        if fields.revision is not None and fields.revision != expected:
            problems.append(Problem("revision", f"must be the If-Match revision {expected} "
                                                "(or left out)"))
        if problems:
            raise GraphInvalid(problems)
        if _same(before, fields):
            return before
        await _check(conn, who.workspace_id, fields)
        await conn.execute(
            "UPDATE automation_rules SET name = %s, metric = %s, op = %s, value = %s, "
            "window_hours = %s, scope = %s, action = %s, weight = %s, min_clicks = %s, "
            "cooldown_minutes = %s, enabled = %s, dry_run = %s "
            "WHERE workspace_id = %s AND id = %s",
            (*_values(fields), who.workspace_id, rule_id))
        await _write_targets(conn, who.workspace_id, fields)
        after = await read(conn, who.workspace_id, rule_id)
        await _record(conn, who, "update", rule_id, before, after)
    return after


async def delete(conn: psycopg.AsyncConnection[Any], who: Actor, rule_id: str,
                 expected: int) -> None:
    """Gone, with its targets, cooldowns and history."""
    async with conn.transaction():
        before = await read(conn, who.workspace_id, rule_id, lock=True)
        if before.revision != expected:
            raise StaleRevision(KIND, rule_id, before.revision)
        await conn.execute("DELETE FROM automation_rules WHERE workspace_id = %s AND id = %s",
                           (who.workspace_id, rule_id))
        await _record(conn, who, "delete", rule_id, before, None)


async def enabled_rules(conn: psycopg.AsyncConnection[Any]) -> list[Rule]:
    """Every workspace's enabled rules, by workspace and id (the governor's pass)."""
    cursor = await conn.execute(
        "SELECT DISTINCT workspace_id FROM automation_rules WHERE enabled ORDER BY 1")
    found: list[Rule] = []
    for (workspace_id,) in await cursor.fetchall():
        found += await _rules(conn, "workspace_id = %s AND enabled", (workspace_id,),
                              workspace_id)
    return found
