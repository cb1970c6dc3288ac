"""Saved campaign templates of a workspace (table campaign_templates), next to the
built-in ones (control/template_builtins.py): listed together, found by id."""

from __future__ import annotations

from typing import Any, Final

import msgspec
import psycopg
from psycopg.types.json import Jsonb

from turnout.control import audit
from turnout.control.campaign_templates import CampaignTemplate, builtin_templates
from turnout.control.entities import Actor
from turnout.control.entity_errors import EntityConflict, EntityNotFound

_DECODE: Final = msgspec.json.Decoder(CampaignTemplate)
_KIND: Final = "campaign_templates"


async def saved(conn: psycopg.AsyncConnection[Any], workspace_id: str
                ) -> list[CampaignTemplate]:
    cursor = await conn.execute(
        "SELECT body::text FROM campaign_templates WHERE workspace_id = %s ORDER BY created_at, id",
        (workspace_id,))
    return [_DECODE.decode(row[0]) for row in await cursor.fetchall()]


async def every(conn: psycopg.AsyncConnection[Any], workspace_id: str
                ) -> list[CampaignTemplate]:
    """The built-in templates, then the workspace's saved ones."""
    return [*builtin_templates(), *await saved(conn, workspace_id)]


async def find(conn: psycopg.AsyncConnection[Any], workspace_id: str, template_id: str
               ) -> CampaignTemplate:
    for template in builtin_templates():
        if template.id == template_id:
            return template
    cursor = await conn.execute(
        "SELECT body::text FROM campaign_templates WHERE workspace_id = %s AND id = %s",
        (workspace_id, template_id))
    row = await cursor.fetchone()
    if row is None:
        raise EntityNotFound("template", template_id)
    return _DECODE.decode(row[0])


async def save(conn: psycopg.AsyncConnection[Any], who: Actor, template: CampaignTemplate
               ) -> None:
    """Store a saved template under its id (taken: EntityConflict), with its audit row."""
    if any(t.id == template.id for t in builtin_templates()):
        raise EntityConflict(f"{template.id!r} is a built-in template's id",
                             [("id", "taken by a built-in template")])
    body = msgspec.to_builtins(template)
    async with conn.transaction():
        cursor = await conn.execute(
            "INSERT INTO campaign_templates (workspace_id, id, name, body) "
            "VALUES (%s, %s, %s, %s) ON CONFLICT DO NOTHING RETURNING id",
            (who.workspace_id, template.id, template.name, Jsonb(body)))
        if await cursor.fetchone() is None:
            raise EntityConflict(f"template {template.id!r} already exists",
                                 [("id", "taken by a saved template")])
        await audit.record(conn, workspace_id=who.workspace_id, actor=who.actor,
                           action="create", entity_kind=_KIND, entity_id=template.id,
                           before=None, after=body, request_id=who.request_id)
