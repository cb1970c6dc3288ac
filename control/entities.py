"""Entity writes of the control plane: each one transaction with its If-Match check, its
validation (control/entity_checks.py), its audit row and, for campaigns, the lifecycle
rules (control/lifecycle.py).

The admin API and the CLI call these; the caller commits and then tells the publisher what
changed (`Written.changed`). `expected` is the revision the write was based on: another
one raises StaleRevision and nothing changes. A write that changes nothing keeps the
revision and leaves no audit row.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any, Final

import msgspec
import psycopg

from turnout.config import model
from turnout.config.decode import problem_from
from turnout.config.errors import GraphInvalid, Problem
from turnout.config.model import Campaign, Entity
from turnout.control import audit, entity_checks, lifecycle, merge_patch
from turnout.control.entity_docs import (
    TYPES,
    Document,
    Stored,
    document_of,
    read_one,
    read_workspace,
    table_of,
)
from turnout.control.entity_errors import EntityConflict, EntityNotFound
from turnout.control.entity_write import write_entity
from turnout.control.graph_rows import kind_of
from turnout.control.graph_write import (
    RowsRefused,
    StaleRevision,
    archive_campaign,
    delete_entity,
)
from turnout.control.merge import lock_graph

# Why a control-plane write may be refused: callers map these (the API to 404, 412, 422,
# 409), anything else is a fault.
REFUSALS: Final = (EntityNotFound, StaleRevision, GraphInvalid, lifecycle.TransitionRefused,
                   EntityConflict)
# Campaign ids the API's own paths use (POST /api/v1/campaigns/bulk/pause).
RESERVED_IDS: Final = {"campaigns": frozenset({"bulk"})}
_CODE_ALPHABET: Final = "abcdefghijkmnpqrstuvwxyz23456789"  # no 0/o, 1/l: read aloud


@dataclass(frozen=True, slots=True)
class Actor:
    """Who writes: the workspace every read and write is confined to, the actor the audit
    and the published version name (an API key id, or `governor`), the request id."""

    workspace_id: str
    actor: str
    request_id: str | None = None


@dataclass(frozen=True, slots=True)
class Written:
    """The outcome of a write: the entity as stored now (None once deleted)."""

    kind: str
    entity_id: str
    action: str
    stored: Stored | None
    changed: bool = True
    reason: str | None = None  # of a cancellation

    @property
    def revision(self) -> int | None:
        return None if self.stored is None else self.stored.revision

    @property
    def note(self) -> str:
        """What the published version says about it."""
        note = f"{self.action} {self.kind} {self.entity_id}"
        return f"{note}: {self.reason}" if self.reason else note

    @property
    def entities(self) -> dict[str, list[str]]:
        """The changed ids by section, as the publisher takes them."""
        return {self.kind: [self.entity_id]} if self.changed else {}


def entity_from(kind: str, document: Any, workspace_id: str) -> Entity:
    """A body (parsed JSON) as the `kind` entity of the workspace; GraphInvalid with the
    body's paths when it does not fit. A body may leave `workspace` out; naming another
    one is refused, so a body can never write into another workspace."""
    if not isinstance(document, dict):
        raise GraphInvalid([Problem("", "the body must be a JSON object")])
    document = dict(document)
    named = document.setdefault("workspace", workspace_id) if kind != "workspaces" else None
    if named is not None and named != workspace_id:
        raise GraphInvalid([Problem("workspace", f"must be this key's workspace "
                                                 f"{workspace_id!r} (or left out)")])
    try:
        return msgspec.convert(document, TYPES[kind])
    except msgspec.ValidationError as exc:
        raise GraphInvalid([_relative(problem_from(exc, ""))]) from None


def _relative(problem: Problem) -> Problem:
    return Problem(problem.path.lstrip("."), problem.message)


async def _lock(conn: psycopg.AsyncConnection[Any], kind: str, entity_id: str) -> None:
    """Beside other single-entity writes, never inside an import (merge.lock_graph); and
    alone on this id, also while it does not exist yet (two creates of one id)."""
    await lock_graph(conn, exclusive=False)
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"{kind}/{entity_id}",))


async def _current(conn: psycopg.AsyncConnection[Any], who: Actor, kind: str, entity_id: str,
                   expected: int) -> Stored:
    """The stored entity, locked, at revision `expected` (else StaleRevision)."""
    await _lock(conn, kind, entity_id)
    stored = await read_one(conn, who.workspace_id, kind, entity_id)
    if stored.revision != expected:
        raise StaleRevision(kind, entity_id, stored.revision)
    return stored


async def _id_taken(conn: psycopg.AsyncConnection[Any], who: Actor, kind: str,
                    entity_id: str) -> str | None:
    """Why `entity_id` cannot be created, or None when it is free. Ids are unique per kind
    across workspaces; another workspace's entity is not described."""
    if entity_id in RESERVED_IDS.get(kind, ()):
        return f"{entity_id!r} is reserved by the API's paths"
    archived = ", archived_at IS NOT NULL" if kind == "campaigns" else ", false"
    cursor = await conn.execute(
        f"SELECT workspace_id = %s{archived} FROM {table_of(kind)} WHERE id = %s",
        (who.workspace_id, entity_id))
    row = await cursor.fetchone()
    if row is None:
        return None
    mine, is_archived = row
    if not mine:
        return f"the id {entity_id!r} is taken: choose another"
    if is_archived:
        return f"{entity_id!r} is an archived campaign (its clicks keep the id)"
    return f"{entity_id!r} already exists (PUT replaces it)"


async def _valid(conn: psycopg.AsyncConnection[Any], who: Actor, entity: Entity
                 ) -> model.Workspace:
    """The workspace, once `entity` is known to fit into it (else GraphInvalid)."""
    workspace = await read_workspace(conn, who.workspace_id)
    found = await entity_checks.problems(conn, workspace, entity)
    if found:
        raise GraphInvalid(found)
    return workspace


async def _record(conn: psycopg.AsyncConnection[Any], who: Actor, action: str, kind: str,
                  entity_id: str, before: Document | None, after: Document | None) -> None:
    await audit.record(conn, workspace_id=who.workspace_id, actor=who.actor, action=action,
                       entity_kind=kind, entity_id=entity_id, before=before, after=after,
                       request_id=who.request_id)


async def _write(conn: psycopg.AsyncConnection[Any], entity: Entity,
                 workspace: model.Workspace) -> int:
    try:
        return await write_entity(conn, entity, workspace.timezone)
    except RowsRefused as exc:  # validation is first; this is the schema's last word
        raise _refused(exc) from exc


def _refused(exc: RowsRefused) -> EntityConflict:
    """The schema refused a write the checks let through: another write changed what it
    names in between. Its message may name other workspaces' values: not passed on."""
    return EntityConflict(f"refused by the database ({exc.constraint or exc.table}): the "
                          "entities it names changed meanwhile; read them again and retry")


async def create(conn: psycopg.AsyncConnection[Any], who: Actor, entity: Entity,
                 action: str = "create") -> Written:
    """Store a new entity (a campaign as a draft)."""
    kind = kind_of(entity)
    if isinstance(entity, Campaign) and entity.status != "draft":
        raise GraphInvalid([Problem("status", "a campaign is created as a draft; activate "
                                              "it with POST /api/v1/campaigns/{id}/activate")])
    async with conn.transaction():
        await _lock(conn, kind, entity.id)
        taken = await _id_taken(conn, who, kind, entity.id)
        if taken is not None:
            raise EntityConflict(taken, [("id", taken)])
        workspace = await _valid(conn, who, entity)
        revision = await _write(conn, entity, workspace)
        document = document_of(entity)
        await _record(conn, who, action, kind, entity.id, None, document)
    return Written(kind, entity.id, action, Stored(kind, entity, document, revision))


def _campaign_edit(before: Campaign, after: Campaign) -> None:
    refusal = lifecycle.may_edit(before.status)
    if refusal is not None:
        raise EntityConflict(refusal)
    if after.status != before.status:
        allowed = ", ".join(lifecycle.allowed_actions(before.status))
        raise GraphInvalid([Problem("status", f"change the status with the lifecycle actions "
                                              f"(POST /api/v1/campaigns/{before.id}/<action>; "
                                              f"allowed now: {allowed})")])


async def replace(conn: psycopg.AsyncConnection[Any], who: Actor, kind: str, entity_id: str,
                  entity: Entity, expected: int) -> Written:
    """PUT: the entity becomes `entity` (same id, same workspace)."""
    async with conn.transaction():
        before = await _current(conn, who, kind, entity_id, expected)
        return await _replace(conn, who, before, entity)


async def patch(conn: psycopg.AsyncConnection[Any], who: Actor, kind: str, entity_id: str,
                changes: dict[str, Any], expected: int) -> Written:
    """PATCH: a JSON merge patch (RFC 7396) on the entity's document."""
    async with conn.transaction():
        before = await _current(conn, who, kind, entity_id, expected)
        document = merge_patch.apply(before.document, changes)
        if document.get("id") is None:
            document["id"] = entity_id  # a null id in the patch: refused as a change below
        entity = entity_from(kind, document, who.workspace_id)
        return await _replace(conn, who, before, entity)


async def _replace(conn: psycopg.AsyncConnection[Any], who: Actor, before: Stored,
                   entity: Entity) -> Written:
    kind, entity_id = before.kind, before.id
    if entity.id != entity_id:
        raise GraphInvalid([Problem("id", f"must be {entity_id!r}, the id in the path (an "
                                          "id cannot change: duplicate or create instead)")])
    if isinstance(entity, Campaign):
        _campaign_edit(before.entity, entity)
    if entity == before.entity:
        return Written(kind, entity_id, "update", before, changed=False)
    workspace = await _valid(conn, who, entity)
    if kind == "landers" and entity.cta_count != before.entity.cta_count:
        misfits = await entity_checks.cta_conflicts(conn, entity_id, entity.cta_count)
        if misfits:
            raise EntityConflict(f"lander {entity_id!r} is shown with as many offers as it "
                                 "has CTAs: change those first", misfits)
    revision = await _write(conn, entity, workspace)
    document = document_of(entity)
    await _record(conn, who, "update", kind, entity_id, before.document, document)
    return Written(kind, entity_id, "update", Stored(kind, entity, document, revision))


async def delete(conn: psycopg.AsyncConnection[Any], who: Actor, kind: str, entity_id: str,
                 expected: int) -> Written:
    """DELETE: gone, or for a campaign that was ever active, archived (its clicks name
    it): out of the graph and the API, its id and code kept, its paths dropped so the
    offers, landers and funnels they named can be deleted. An archived child keeps its
    parent from being deleted too: the parent is archived then."""
    async with conn.transaction():
        before = await _current(conn, who, kind, entity_id, expected)
        if isinstance(before.entity, Campaign):
            refusal = lifecycle.may_delete(before.entity.status)
            if refusal is not None:
                raise EntityConflict(refusal)
        found = await entity_checks.referrers(conn, kind, entity_id)
        if kind == "campaigns":
            if any(not r.archived for r in found):
                raise EntityConflict(*entity_checks.in_use(kind, entity_id, found))
            if found or await _ever_active(conn, entity_id):
                return await _archive(conn, who, before)
        elif found:
            raise EntityConflict(*entity_checks.in_use(kind, entity_id, found))
        try:
            await delete_entity(conn, kind, entity_id, expected)
        except RowsRefused as exc:  # named meanwhile by a write the checks did not see yet
            raise _refused(exc) from exc
        await _record(conn, who, "delete", kind, entity_id, before.document, None)
    return Written(kind, entity_id, "delete", None)


async def _ever_active(conn: psycopg.AsyncConnection[Any], campaign_id: str) -> bool:
    cursor = await conn.execute(
        "SELECT first_active_at IS NOT NULL FROM campaigns WHERE id = %s", (campaign_id,))
    row = await cursor.fetchone()
    return bool(row and row[0])


async def _archive(conn: psycopg.AsyncConnection[Any], who: Actor, before: Stored) -> Written:
    await archive_campaign(conn, before.id, before.revision)
    await conn.execute("DELETE FROM rules WHERE campaign_id = %s", (before.id,))
    after = {**before.document, "archived": True}
    await _record(conn, who, "archive", "campaigns", before.id, before.document, after)
    return Written("campaigns", before.id, "archive", None)


async def act(conn: psycopg.AsyncConnection[Any], who: Actor, campaign_id: str, action: str,
              expected: int, *, now_ms: int, reason: str | None = None) -> Written:
    """A lifecycle action (control/lifecycle.py) on a campaign; TransitionRefused says why
    not. The status is the only column written, so a pause stays cheap."""
    async with conn.transaction():
        before = await _current(conn, who, "campaigns", campaign_id, expected)
        workspace = await read_workspace(conn, who.workspace_id)
        step = lifecycle.transition(before.entity, action, now_ms=now_ms,
                                    timezone=workspace.timezone, reason=reason)
        cursor = await conn.execute(
            "UPDATE campaigns SET status = %s WHERE id = %s RETURNING revision",
            (step.after, campaign_id))
        row = await cursor.fetchone()
        assert row is not None
        entity = msgspec.structs.replace(before.entity, status=step.after)
        document = {**before.document, "status": step.after}
        after = document if reason is None else {**document, "reason": reason}
        await _record(conn, who, action, "campaigns", campaign_id, before.document, after)
    return Written("campaigns", campaign_id, action,
                   Stored("campaigns", entity, document, int(row[0])), reason=reason)


async def duplicate(conn: psycopg.AsyncConnection[Any], who: Actor, campaign_id: str, *,
                    new_id: str | None = None, code: str | None = None,
                    name: str | None = None) -> Written:
    """A copy of the campaign as a new draft: the id and code given, or free ones made."""
    async with conn.transaction():
        source: Campaign = (await read_one(conn, who.workspace_id, "campaigns",
                                           campaign_id)).entity
        copy = msgspec.structs.replace(
            source, id=new_id or await _free_id(conn, who, campaign_id),
            code=code or await _free_code(conn, who), name=name or f"{source.name} (copy)",
            status="draft")
        return await create(conn, who, copy, action="duplicate")


async def _free_id(conn: psycopg.AsyncConnection[Any], who: Actor, campaign_id: str) -> str:
    base = f"{campaign_id[:54]}-copy"
    cursor = await conn.execute("SELECT id FROM campaigns WHERE id LIKE %s",
                                (base.replace("_", r"\_") + "%",))
    taken = {row[0] for row in await cursor.fetchall()}
    n = 1
    while (candidate := base if n == 1 else f"{base}-{n}") in taken:
        n += 1
    return candidate


async def _free_code(conn: psycopg.AsyncConnection[Any], who: Actor) -> str:
    """A generated code no campaign uses (10 letters and digits: 50 bits)."""
    while True:
        code = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(10))
        cursor = await conn.execute("SELECT 1 FROM campaigns WHERE code = %s", (code,))
        if await cursor.fetchone() is None:
            return code


__all__ = ["REFUSALS", "Actor", "EntityConflict", "EntityNotFound", "StaleRevision", "Written",
           "act", "create", "delete", "duplicate", "entity_from", "patch", "replace"]
