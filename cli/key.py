"""`turnout key create|list|revoke`: API keys, over the admin API like any client.

`turnout key create --bootstrap --workspace W --role owner` is the one exception: it
writes to PostgreSQL (TURNOUT_POSTGRES_URL) directly, for the very first key of a
workspace, when no key exists to call the API with. It creates the workspace row if the
control plane has none yet (an import fills in the rest), and refuses when the workspace
already has a usable owner key unless --force: a second way in should be deliberate.
A new key's token goes to stdout alone (`TOKEN=$(turnout key create ...)`), the rest to
stderr.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from typing import Any

from turnout.errors import TurnoutError
from turnout.roles import ROLES


class BootstrapRefused(TurnoutError):
    """--bootstrap would add an owner key where one exists (and --force was not given)."""


def register(subparsers: Any) -> None:
    key = subparsers.add_parser("key", help="create, list or revoke API keys",
                                description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    verbs = key.add_subparsers(dest="verb", metavar="VERB", required=True)

    def client_flags(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--api", help="admin API base URL (default: TURNOUT_API_URL)")
        parser.add_argument("--key", help="an admin or owner key (default: TURNOUT_API_KEY)")

    create = verbs.add_parser("create", help="make a key; its token is printed once")
    create.add_argument("--role", choices=ROLES, required=True, help="what the key may do")
    create.add_argument("--name", default="", help="what the key is for")
    create.add_argument("--expires-at", type=_instant,
                        help="ISO 8601 time with offset, e.g. 2026-01-31T00:00:00Z")
    create.add_argument("--rate-per-minute", type=int,
                        help="requests a minute (default: the API's TURNOUT_API_RATE_PER_MINUTE)")
    create.add_argument("--bootstrap", action="store_true",
                        help="write to PostgreSQL directly (the first key of a workspace)")
    create.add_argument("--workspace", help="with --bootstrap: the workspace of the key")
    create.add_argument("--force", action="store_true",
                        help="with --bootstrap: even if the workspace has an owner key")
    create.add_argument("--postgres-url", help="with --bootstrap (default: TURNOUT_POSTGRES_URL)")
    client_flags(create)
    create.set_defaults(func=create_command)

    listing = verbs.add_parser("list", help="the keys of the API key's workspace")
    listing.add_argument("--json", action="store_true", help="print JSON")
    client_flags(listing)
    listing.set_defaults(func=list_command)

    revoke = verbs.add_parser("revoke", help="revoke a key by its id")
    revoke.add_argument("id", help="the key id (tk_<id>_...)")
    client_flags(revoke)
    revoke.set_defaults(func=revoke_command)


def _instant(text: str) -> dt.datetime:
    try:
        at = dt.datetime.fromisoformat(text)
    except ValueError:
        at = None
    if at is None or at.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r}: an ISO 8601 time with its offset")
    return at


def create_command(args: argparse.Namespace) -> int:
    if args.bootstrap:
        return _bootstrap(args)
    if args.workspace or args.force or args.postgres_url:
        print("turnout key create: --workspace, --force and --postgres-url go with "
              "--bootstrap; a key made through the API belongs to the workspace of --key",
              file=sys.stderr)
        return 2
    from turnout.cli.api_client import ApiClient

    body: dict[str, Any] = {"role": args.role, "name": args.name}
    if args.expires_at is not None:
        body["expires_at"] = args.expires_at.isoformat()
    if args.rate_per_minute is not None:
        body["rate_per_minute"] = args.rate_per_minute
    made = ApiClient.from_args(args.api, args.key).request("POST", "/api/v1/keys", body)
    _print_created(made["key"], made["token"])
    return 0


def _print_created(key: dict[str, Any], token: str) -> None:
    print(f"key {key['id']}: {key['role']} of workspace {key['workspace_id']}; its token "
          "(shown this once, stored only as a hash):", file=sys.stderr)
    print(token)


def _bootstrap(args: argparse.Namespace) -> int:
    import asyncio

    from turnout.connections import Connections

    if not args.workspace:
        print("turnout key create: --bootstrap needs --workspace", file=sys.stderr)
        return 2
    url = args.postgres_url or Connections.from_env().postgres_url
    if not url:
        print("turnout key create: --bootstrap needs --postgres-url or TURNOUT_POSTGRES_URL",
              file=sys.stderr)
        return 2
    key, token, created_workspace = asyncio.run(_bootstrap_key(url, args))
    if created_workspace:
        print(f"workspace {args.workspace} created in the control plane (import a graph "
              "to fill it in)", file=sys.stderr)
    _print_created(key.audited(), token)
    return 0


async def _bootstrap_key(url: str, args: argparse.Namespace) -> tuple[Any, str, bool]:
    import psycopg

    from turnout.control import keys
    from turnout.control.db import unavailable

    try:
        conn = await psycopg.AsyncConnection.connect(url, connect_timeout=10)
    except psycopg.OperationalError as exc:
        raise unavailable(exc) from None
    async with conn:
        # One bootstrap at a time per workspace, so two cannot both see "no owner key".
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))",
                           (f"turnout key bootstrap {args.workspace}",))
        cur = await conn.execute(
            "INSERT INTO workspaces (id, name) VALUES (%s, %s) ON CONFLICT (id) DO NOTHING "
            "RETURNING id", (args.workspace, args.workspace))
        created_workspace = await cur.fetchone() is not None
        if args.role == "owner" and not args.force and await keys.has_owner_key(
                conn, args.workspace):
            raise BootstrapRefused(
                f"workspace {args.workspace} already has an owner key: create keys with it "
                "(turnout key create --key ...), or pass --force to add another owner key")
        key, token = await keys.create(
            conn, workspace_id=args.workspace, role=args.role, name=args.name or "bootstrap",
            expires_at=args.expires_at, rate_per_minute=args.rate_per_minute,
            actor="bootstrap")
    return key, token, created_workspace


def list_command(args: argparse.Namespace) -> int:
    import orjson

    from turnout.cli.api_client import ApiClient

    items = ApiClient.from_args(args.api, args.key).request("GET", "/api/v1/keys")["items"]
    if args.json:
        print(orjson.dumps(items, option=orjson.OPT_INDENT_2).decode())
        return 0
    header = ("id", "role", "name", "created_at", "expires_at", "last_used_at", "revoked_at")
    rows = [[str(item.get(col) or "-") for col in header] for item in items]
    widths = [max(len(col), *(len(row[i]) for row in rows)) for i, col in enumerate(header)]
    for row in (list(header), *rows):
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
              .rstrip())
    return 0


def revoke_command(args: argparse.Namespace) -> int:
    from turnout.cli.api_client import ApiClient

    key_id = args.id.split("_")[1] if args.id.startswith("tk_") else args.id
    key = ApiClient.from_args(args.api, args.key).request("DELETE", f"/api/v1/keys/{key_id}")
    print(f"key {key['id']} revoked at {key['revoked_at']}")
    return 0
