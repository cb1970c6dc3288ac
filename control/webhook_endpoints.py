"""Webhook endpoints: where a workspace's notifications are POSTed, signed with a secret.

The secret is in the answer to the endpoint's creation and nowhere else: reads leave it
out, the audit log masks it (control/audit.py SECRET_FIELDS), nothing logs it. An
endpoint receives the notifications recorded while it is enabled and subscribed to their
event (governor/webhooks.py plans each notification once, when it first sees it).
"""

from __future__ import annotations

import secrets
from typing import Annotated, Any, Final, Literal
from urllib.parse import urlsplit

import msgspec
import psycopg
from psycopg.rows import dict_row

from turnout.config.errors import GraphInvalid, Problem
from turnout.control import audit
from turnout.control.entities import Actor
from turnout.control.entity_errors import EntityConflict, EntityNotFound
from turnout.control.graph_write import StaleRevision

KIND: Final = "webhook"  # entity_kind of the audit rows
# The events of the notifications outbox (governor/notify.py enqueues them).
EVENTS: Final = ("budget.threshold", "cap.reached", "cap.lifted", "automation.action",
                 "campaign.transition")
Event = Literal["budget.threshold", "cap.reached", "cap.lifted", "automation.action",
                "campaign.transition"]
Slug = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
Secret = Annotated[str, msgspec.Meta(min_length=16, max_length=256)]
_COLUMNS: Final = "id, workspace_id AS workspace, url, events, enabled, revision"


class EndpointFields(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    """An endpoint as written (POST, PUT)."""

    id: Slug
    url: Annotated[str, msgspec.Meta(min_length=1, max_length=2000)]
    events: Annotated[list[Event], msgspec.Meta(min_length=1)] = msgspec.field(
        default_factory=lambda: list(EVENTS))
    """The events it receives; default: all of them."""
    enabled: bool = True
    secret: Secret | None = None
    """The HMAC key (16 to 256 characters). POST: generated when left out, and answered
    once; PUT: a new secret, or left out to keep the current one."""
    workspace: Slug | None = None
    """Optional; when given, the key's workspace."""
    revision: int | None = None
    """Optional on PUT; when given, the If-Match one."""


class Endpoint(msgspec.Struct, kw_only=True, frozen=True):
    """An endpoint as shown: never its secret."""

    id: str
    workspace: str
    url: str
    events: list[str]
    enabled: bool
    revision: int

    def audited(self) -> dict[str, Any]:
        shown: dict[str, Any] = msgspec.to_builtins(self)
        del shown["revision"]
        return {**shown, "secret": ""}  # masked by audit.record: the field, not its value


class EndpointCreated(msgspec.Struct, kw_only=True):
    endpoint: Endpoint
    secret: str
    """The signing secret: shown this once."""


class EndpointList(msgspec.Struct, kw_only=True):
    items: list[Endpoint]


def _problems(fields: EndpointFields, workspace_id: str) -> list[Problem]:
    found = []
    if fields.workspace is not None and fields.workspace != workspace_id:
        found.append(Problem("workspace", f"must be this key's workspace {workspace_id!r} "
                                          "(or left out)"))
    parts = urlsplit(fields.url)
    if parts.scheme not in ("http", "https") or not parts.hostname or any(
            c.isspace() for c in fields.url):
        found.append(Problem("url", "must be an absolute http or https URL"))
    elif parts.username or parts.password:
        found.append(Problem("url", "must not carry credentials: the signature "
                                    "authenticates turnout to the receiver"))
    if len(set(fields.events)) != len(fields.events):
        found.append(Problem("events", "each event once"))
    return found


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


async def list_endpoints(conn: psycopg.AsyncConnection[Any], workspace_id: str
                         ) -> list[Endpoint]:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(f"SELECT {_COLUMNS} FROM webhook_endpoints WHERE workspace_id = %s "
                          "ORDER BY id", (workspace_id,))
        return [Endpoint(**row) async for row in cur]


async def read(conn: psycopg.AsyncConnection[Any], workspace_id: str, endpoint_id: str, *,
               lock: bool = False) -> Endpoint:
    """One endpoint of the workspace (EntityNotFound for any other)."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(f"SELECT {_COLUMNS} FROM webhook_endpoints WHERE workspace_id = %s "
                          f"AND id = %s{' FOR UPDATE' if lock else ''}",
                          (workspace_id, endpoint_id))
        row = await cur.fetchone()
    if row is None:
        raise EntityNotFound("webhook", endpoint_id)
    return Endpoint(**row)


async def _record(conn: psycopg.AsyncConnection[Any], who: Actor, action: str,
                  endpoint_id: str, before: Endpoint | None, after: Endpoint | None) -> None:
    await audit.record(conn, workspace_id=who.workspace_id, actor=who.actor, action=action,
                       entity_kind=KIND, entity_id=endpoint_id,
                       before=None if before is None else before.audited(),
                       after=None if after is None else after.audited(),
                       request_id=who.request_id)


async def create(conn: psycopg.AsyncConnection[Any], who: Actor, fields: EndpointFields
                 ) -> tuple[Endpoint, str]:
    """Store a new endpoint; it and its secret, which is answered this once."""
    found = _problems(fields, who.workspace_id)
    if fields.revision is not None:
        found.append(Problem("revision", "a new endpoint has no revision yet"))
    if found:
        raise GraphInvalid(found)
    secret = fields.secret or new_secret()
    async with conn.transaction():
        cursor = await conn.execute(
            "INSERT INTO webhook_endpoints (workspace_id, id, url, secret, events, enabled) "
            "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING RETURNING id",
            (who.workspace_id, fields.id, fields.url, secret, list(fields.events),
             fields.enabled))
        if await cursor.fetchone() is None:
            why = f"{fields.id!r} already exists (PUT replaces it)"
            raise EntityConflict(why, [("id", why)])
        endpoint = await read(conn, who.workspace_id, fields.id)
        await _record(conn, who, "create", fields.id, None, endpoint)
    return endpoint, secret


async def replace(conn: psycopg.AsyncConnection[Any], who: Actor, endpoint_id: str,
                  fields: EndpointFields, expected: int) -> Endpoint:
    """PUT: url, events and enabled become `fields`'s; the secret too when one is given."""
    async with conn.transaction():
        before = await read(conn, who.workspace_id, endpoint_id, lock=True)
        if before.revision != expected:
            raise StaleRevision(KIND, endpoint_id, before.revision)
        found = _problems(fields, who.workspace_id)
        if fields.id != endpoint_id:
            found.append(Problem("id", f"must be {endpoint_id!r}, the id in the path"))
        if fields.revision is not None and fields.revision != expected:
            found.append(Problem("revision", f"must be the If-Match revision {expected} "
                                             "(or left out)"))
        if found:
            raise GraphInvalid(found)
        if (before.url, before.events, before.enabled, fields.secret) == (
                fields.url, list(fields.events), fields.enabled, None):
            return before
        await conn.execute(
            "UPDATE webhook_endpoints SET url = %s, events = %s, enabled = %s, "
            "secret = coalesce(%s, secret) WHERE workspace_id = %s AND id = %s",
            (fields.url, list(fields.events), fields.enabled, fields.secret,
             who.workspace_id, endpoint_id))
        after = await read(conn, who.workspace_id, endpoint_id)
        await _record(conn, who, "update", endpoint_id, before, after)
    return after


async def delete(conn: psycopg.AsyncConnection[Any], who: Actor, endpoint_id: str,
                 expected: int) -> None:
    """Gone, with its deliveries (pending ones are not sent)."""
    async with conn.transaction():
        before = await read(conn, who.workspace_id, endpoint_id, lock=True)
        if before.revision != expected:
            raise StaleRevision(KIND, endpoint_id, before.revision)
        await conn.execute("DELETE FROM webhook_endpoints WHERE workspace_id = %s AND id = %s",
                           (who.workspace_id, endpoint_id))
        await _record(conn, who, "delete", endpoint_id, before, None)
