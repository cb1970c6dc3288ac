"""What an automation rule's action does to one target, through the control plane's own
writes, so it is validated, versioned and audited (actor `governor`) like an editor's.

- campaign scope: pause pauses the campaign (control.entities.act); activate resumes a
  paused one (activates a draft); both obey the lifecycle (TransitionRefused otherwise).
- offer / lander scope: the destinations of kind offer / lander naming it, in every
  campaign of the workspace that may be edited (not completed, cancelled or archived),
  are paused (pause), unpaused (activate) or given the rule's weight (set_weight); each
  changed campaign is one replace (control.entities.replace) with its If-Match revision.
  A lander destination whose CTAs lead to the offer, and funnels, are left alone.
- destination scope: that one destination, the same way.
- notify: nothing changes; the notification is the action.

A target already in the wanted state changes nothing (`Written.changed` False).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

import msgspec
import psycopg

from turnout.config.model import DEFAULT_RULE_ID, Campaign, Destination
from turnout.control import entities, lifecycle
from turnout.control.automation_rules import Rule, Target
from turnout.control.entities import Actor, Written
from turnout.control.entity_docs import read_one
from turnout.control.entity_errors import EntityNotFound

# The lifecycle action that makes a campaign active, by its status.
_ACTIVATE: Final = {"paused": "resume", "draft": "activate"}
Pick = Callable[[str, Destination], bool]


def _changes(rule: Rule) -> dict[str, Any]:
    if rule.action == "pause":
        return {"paused": True}
    if rule.action == "activate":
        return {"paused": False}
    return {"weight": rule.weight}


def _picker(rule: Rule, target: Target) -> Pick:
    if rule.scope == "destination":
        return lambda path, d: path == target.rule and d.id == target.destination
    kind, ref = rule.scope, getattr(target, rule.scope)
    return lambda _path, d: d.kind == kind and d.ref == ref


def changed_campaign(campaign: Campaign, pick: Pick, changes: dict[str, Any]) -> Campaign:
    """`campaign` with `changes` made to every destination `pick` chooses."""
    def apply(path: str, destinations: tuple[Destination, ...]) -> tuple[Destination, ...]:
        return tuple(msgspec.structs.replace(d, **changes) if pick(path, d) else d
                     for d in destinations)

    return msgspec.structs.replace(
        campaign,
        rules=tuple(msgspec.structs.replace(r, destinations=apply(r.id, r.destinations))
                    for r in campaign.rules),
        default=apply(DEFAULT_RULE_ID, campaign.default))


def _names_one(campaign: Campaign, pick: Pick) -> bool:
    return any(pick(r.id, d) for r in campaign.rules for d in r.destinations) or any(
        pick(DEFAULT_RULE_ID, d) for d in campaign.default)


async def _campaigns_with(conn: psycopg.AsyncConnection[Any], rule: Rule,
                          target: Target) -> list[str]:
    """The editable campaigns of the workspace whose destinations the target names."""
    if rule.scope == "destination":
        return [str(target.campaign)]
    column = f"{rule.scope}_id"
    cursor = await conn.execute(
        f"SELECT DISTINCT d.campaign_id FROM destinations d JOIN campaigns c "
        f"ON c.id = d.campaign_id AND c.archived_at IS NULL AND c.status <> ALL(%s) "
        f"WHERE d.workspace_id = %s AND d.kind = %s AND d.{column} = %s ORDER BY 1",
        (sorted(lifecycle.FINAL), rule.workspace, rule.scope, getattr(target, rule.scope)))
    return [row[0] for row in await cursor.fetchall()]


async def _campaign_action(conn: psycopg.AsyncConnection[Any], who: Actor, rule: Rule,
                           campaign_id: str, now_ms: int) -> Written:
    stored = await read_one(conn, rule.workspace, "campaigns", campaign_id)
    status = stored.entity.status
    wanted = "paused" if rule.action == "pause" else "active"
    if status == wanted:
        return Written("campaigns", campaign_id, rule.action, stored, changed=False)
    action = "pause" if rule.action == "pause" else _ACTIVATE.get(status, "resume")
    return await entities.act(conn, who, campaign_id, action, stored.revision, now_ms=now_ms)


async def apply(conn: psycopg.AsyncConnection[Any], who: Actor, rule: Rule, target: Target,
                now_ms: int) -> list[Written]:
    """Take `rule`'s action on `target` inside the caller's transaction; the writes made
    (none for notify). The control plane's refusals propagate."""
    if rule.action == "notify":
        return []
    if rule.scope == "campaign":
        return [await _campaign_action(conn, who, rule, str(target.campaign), now_ms)]
    pick, changes = _picker(rule, target), _changes(rule)
    written = []
    for campaign_id in await _campaigns_with(conn, rule, target):
        stored = await read_one(conn, rule.workspace, "campaigns", campaign_id)
        if rule.scope == "destination" and not _names_one(stored.entity, pick):
            raise EntityNotFound("destination", target.key(rule.scope))
        after = changed_campaign(stored.entity, pick, changes)
        written.append(await entities.replace(conn, who, "campaigns", campaign_id, after,
                                              stored.revision))
    return written
