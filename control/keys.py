"""API keys: a key opens one workspace with one role; shown once, stored as a hash.

A key is `tk_<id>_<secret>`: `id` 12 lowercase base32 characters (the row's primary key, so
a presented key is found by one index look-up), `secret` 32 random bytes in base64url. The
database keeps sha256 of the whole token and its prefix `tk_<id>`, never the token: the
secret has 256 bits, so a fast unsalted hash cannot be brute-forced and lets the look-up
compare in constant time. Who may grant which role is `may_grant`; every write here leaves
its audit row in the same transaction.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from typing import Any, Final, Literal

import msgspec
import psycopg
from psycopg.rows import dict_row

from turnout.control import audit
from turnout.control.errors import ControlError
from turnout.roles import ROLES, rank

__all__ = ["ROLES", "Key", "KeyNotFound", "KeyRefused", "LastOwnerKey", "Role", "RoleNotGranted",
           "StoredKey", "create", "find", "has_owner_key", "key_id_of", "list_keys",
           "matches", "may_grant", "new_token", "prefix_of", "revoke", "token_hash", "touch"]

TOKEN_PREFIX: Final = "tk_"
_ID_CHARS: Final = 12
_TOKEN: Final = re.compile(r"^tk_([a-z2-7]{12})_([A-Za-z0-9_-]{43})$")
_COLUMNS: Final = ("id, workspace_id, name, role, prefix, created_at, expires_at, "
                   "last_used_at, revoked_at, rate_per_minute")


class KeyRefused(ControlError):
    """Root of the key operations' refusals."""


class KeyNotFound(KeyRefused):
    """No such key in the workspace (or another workspace's: the same answer)."""


class RoleNotGranted(KeyRefused):
    """The acting role may not create or revoke a key of that role."""


class LastOwnerKey(KeyRefused):
    """Revoking it would leave the workspace without an owner key."""


Role = Literal["viewer", "editor", "admin", "owner"]


class Key(msgspec.Struct, frozen=True, kw_only=True):
    """An API key as it may be shown and audited: everything but its hash."""

    id: str
    workspace_id: str
    name: str
    role: Role
    prefix: str
    """`tk_<id>`: how the key's token starts, to tell keys apart."""
    created_at: dt.datetime
    expires_at: dt.datetime | None
    last_used_at: dt.datetime | None
    """Up to a minute late: uses are written once a minute."""
    revoked_at: dt.datetime | None
    rate_per_minute: int | None

    def usable(self, now: dt.datetime) -> bool:
        return self.revoked_at is None and (self.expires_at is None or now < self.expires_at)

    def audited(self) -> dict[str, Any]:
        """The key in its audit rows: everything shown but the last use (not a change)."""
        shown: dict[str, Any] = msgspec.to_builtins(self)
        del shown["last_used_at"]
        return shown


@dataclass(frozen=True, slots=True)
class StoredKey:
    """A key with the hash its token is checked against."""

    key: Key
    key_hash: bytes


def _key(row: dict[str, Any]) -> Key:
    return Key(**row)


def may_grant(actor_role: str, role: str) -> bool:
    """Owners create and revoke keys of any role; admins only viewer and editor keys."""
    if actor_role == "owner":
        return True
    return actor_role == "admin" and rank(role) < rank("admin")


def new_token() -> tuple[str, str]:
    """A fresh (key id, token)."""
    key_id = base64.b32encode(secrets.token_bytes(10)).decode().lower()[:_ID_CHARS]
    secret = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("=")
    return key_id, f"{TOKEN_PREFIX}{key_id}_{secret}"


def key_id_of(token: str) -> str | None:
    """The key id of a well-formed token; None for anything else."""
    match = _TOKEN.match(token)
    return match.group(1) if match else None


def token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def matches(stored: StoredKey, token: str) -> bool:
    return hmac.compare_digest(stored.key_hash, token_hash(token))


def prefix_of(key_id: str) -> str:
    return f"{TOKEN_PREFIX}{key_id}"


async def find(conn: psycopg.AsyncConnection, key_id: str) -> StoredKey | None:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(f"SELECT {_COLUMNS}, key_hash FROM api_keys WHERE id = %s",
                          (key_id,))
        row = await cur.fetchone()
    if row is None:
        return None
    key_hash = bytes(row.pop("key_hash"))
    return StoredKey(_key(row), key_hash)


async def list_keys(conn: psycopg.AsyncConnection, workspace_id: str) -> list[Key]:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(f"SELECT {_COLUMNS} FROM api_keys WHERE workspace_id = %s "
                          "ORDER BY created_at, id", (workspace_id,))
        return [_key(row) async for row in cur]


async def has_owner_key(conn: psycopg.AsyncConnection, workspace_id: str) -> bool:
    cur = await conn.execute(
        "SELECT EXISTS (SELECT 1 FROM api_keys WHERE workspace_id = %s AND role = 'owner' "
        "AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now()))",
        (workspace_id,))
    row = await cur.fetchone()
    return bool(row and row[0])


async def create(conn: psycopg.AsyncConnection, *, workspace_id: str, role: str,
                 name: str = "", expires_at: dt.datetime | None = None,
                 rate_per_minute: int | None = None, actor: str,
                 actor_role: str | None = None,
                 request_id: str | None = None) -> tuple[Key, str]:
    """Store a new key and its audit row on `conn` (the caller's transaction); return it
    with its token, which exists nowhere else from now on. `actor_role` None: no role check
    (the bootstrap of a workspace's first key, from the command line)."""
    rank(role)
    if actor_role is not None and not may_grant(actor_role, role):
        raise RoleNotGranted(f"a {actor_role} key cannot create {role} keys")
    key_id, token = new_token()
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            "INSERT INTO api_keys (id, workspace_id, name, role, key_hash, prefix, "
            f"expires_at, rate_per_minute) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) "
            f"RETURNING {_COLUMNS}",
            (key_id, workspace_id, name, role, token_hash(token), prefix_of(key_id),
             expires_at, rate_per_minute))
        row = await cur.fetchone()
    assert row is not None
    key = _key(row)
    await audit.record(conn, workspace_id=workspace_id, actor=actor, action="create",
                       entity_kind="key", entity_id=key.id, before=None, after=key.audited(),
                       request_id=request_id)
    return key, token


async def revoke(conn: psycopg.AsyncConnection, *, workspace_id: str, key_id: str,
                 actor: str, actor_role: str, request_id: str | None = None) -> Key:
    """Revoke a key of the workspace, with its audit row. Revoking an already revoked key
    changes nothing and writes nothing (it is still revoked)."""
    # The target and the workspace's owner keys, locked in id order: two revocations at
    # once can neither deadlock nor both remove "the other" last owner key.
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(f"SELECT {_COLUMNS} FROM api_keys WHERE workspace_id = %s AND "
                          "(id = %s OR role = 'owner') ORDER BY id FOR UPDATE",
                          (workspace_id, key_id))
        rows = [_key(row) async for row in cur]
    before = next((key for key in rows if key.id == key_id), None)
    if before is None:
        raise KeyNotFound("no such key in this workspace")
    if not may_grant(actor_role, before.role):
        raise RoleNotGranted(f"a {actor_role} key cannot revoke {before.role} keys")
    if before.revoked_at is not None:
        return before
    now = dt.datetime.now(dt.UTC)
    if before.role == "owner" and not any(
            key.role == "owner" and key.id != key_id and key.usable(now) for key in rows):
        raise LastOwnerKey("this is the workspace's last owner key: create another owner "
                           "key before revoking it")
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(f"UPDATE api_keys SET revoked_at = now() WHERE id = %s "
                          f"RETURNING {_COLUMNS}", (key_id,))
        row = await cur.fetchone()
    assert row is not None
    after = _key(row)
    await audit.record(conn, workspace_id=workspace_id, actor=actor, action="revoke",
                       entity_kind="key", entity_id=key_id, before=before.audited(),
                       after=after.audited(), request_id=request_id)
    return after


async def touch(conn: psycopg.AsyncConnection, used: dict[str, dt.datetime]) -> None:
    """Record when keys were last used (one statement for all of them). Not audited: a use
    is not a change."""
    if not used:
        return
    ids, ats = zip(*sorted(used.items()), strict=True)
    await conn.execute(
        "UPDATE api_keys SET last_used_at = u.at FROM unnest(%s::text[], %s::timestamptz[]) "
        "AS u(id, at) WHERE api_keys.id = u.id AND (last_used_at IS NULL OR "
        "last_used_at < u.at)", (list(ids), list(ats)))
