"""`turnout campaign list|show|activate|pause|resume|complete|cancel|duplicate|weights`:
campaigns over the admin API (TURNOUT_API_URL, TURNOUT_API_KEY), like any other client.

A change reads the campaign first and sends its revision as If-Match (or --revision's), so
a campaign another editor changed meanwhile is refused (exit 3), never overwritten.
`weights` sets a rule's destination weights: `turnout campaign weights camp-a --rule usa
usa=70 global=30` (`--rule default`: the default path); destinations not named keep theirs.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

FORMAT_HINT = "print the answer as JSON"


def register(subparsers: Any) -> None:
    campaign = subparsers.add_parser("campaign", help="list, show and change campaigns",
                                     description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    verbs = campaign.add_subparsers(dest="verb", metavar="VERB", required=True)

    def verb(name: str, text: str, *, takes_id: bool = True,
             dash_values: tuple[str, ...] = ()) -> argparse.ArgumentParser:
        parser = verbs.add_parser(name, help=text, description=text, dash_values=dash_values)
        if takes_id:
            parser.add_argument("id", help="the campaign id")
        parser.add_argument("--json", action="store_true", help=FORMAT_HINT)
        parser.add_argument("--api", help="admin API base URL (default: TURNOUT_API_URL)")
        parser.add_argument("--key", help="an API key (default: TURNOUT_API_KEY)")
        return parser

    listing = verb("list", "the workspace's campaigns", takes_id=False,
                   dash_values=("--sort",))
    listing.add_argument("--status", help="only these statuses, e.g. active,paused")
    listing.add_argument("--parent", help="only the children of this campaign")
    listing.add_argument("--q", help="id, name or code contains this")
    listing.add_argument("--sort", help="name, code, status, created_at, updated_at; "
                                        "'-' first for descending")
    listing.add_argument("--limit", type=int, default=100,
                         help="at most this many (default 100; 0: all, page by page)")
    listing.set_defaults(func=list_command)

    verb("show", "one campaign").set_defaults(func=show_command)
    for action, text in (("activate", "start serving a draft"),
                         ("pause", "stop serving an active campaign for now"),
                         ("resume", "serve a paused campaign again"),
                         ("complete", "end it for good (duplicate to run it again)"),
                         ("cancel", "call it off for good, with a reason")):
        parser = verb(action, text)
        parser.add_argument("--revision", type=int,
                            help="the revision you read (default: the current one)")
        if action == "cancel":
            parser.add_argument("--reason", required=True, help="why: kept in the audit log")
        parser.set_defaults(func=action_command, action=action)

    duplicate = verb("duplicate", "copy a campaign as a new draft")
    duplicate.add_argument("--new-id", help="the copy's id (default <id>-copy)")
    duplicate.add_argument("--code", help="the copy's tracking code (default: generated)")
    duplicate.add_argument("--name", help="the copy's name (default: <name> (copy))")
    duplicate.set_defaults(func=duplicate_command)

    weights = verb("weights", "set the weights of a rule's destinations")
    weights.add_argument("--rule", required=True, help="the rule id, or default")
    weights.add_argument("weights", nargs="+", metavar="DESTINATION=WEIGHT",
                         help="e.g. usa=70 global=30")
    weights.add_argument("--revision", type=int,
                         help="the revision you read (default: the current one)")
    weights.set_defaults(func=weights_command)


def _client(args: argparse.Namespace) -> Any:
    from turnout.cli.api_client import ApiClient

    return ApiClient.from_args(args.api, args.key)


def _path(campaign_id: str, tail: str = "") -> str:
    from urllib.parse import quote

    return f"/api/v1/campaigns/{quote(campaign_id, safe='')}{tail}"


def _print(args: argparse.Namespace, document: Any, line: str) -> None:
    if args.json:
        import orjson

        sys.stdout.write(orjson.dumps(document, option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        print(line)


def _summary(c: dict[str, Any]) -> str:
    return f"{c['id']}  {c['status']}  {c['code']}  rev {c['revision']}  {c['name']}"


def list_command(args: argparse.Namespace) -> int:
    from urllib.parse import urlencode

    client = _client(args)
    params = {name: value for name in ("status", "parent", "q", "sort")
              if (value := getattr(args, name)) is not None}
    wanted = args.limit if args.limit > 0 else None
    items: list[dict[str, Any]] = []
    cursor = None
    while wanted is None or len(items) < wanted:
        page_size = 1000 if wanted is None else min(1000, wanted - len(items))
        query = {**params, "limit": page_size, **({"cursor": cursor} if cursor else {})}
        page = client.request("GET", f"/api/v1/campaigns?{urlencode(query)}")
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    _print(args, items, "\n".join(map(_summary, items)) or "no campaigns")
    return 0


def show_command(args: argparse.Namespace) -> int:
    campaign = _client(args).request("GET", _path(args.id))
    lines = [_summary(campaign)]
    for rule in (*campaign["rules"], {"id": "default", "destinations": campaign["default"]}):
        shares = ", ".join(f"{d['id']}={d['weight']}{' (paused)' if d['paused'] else ''}"
                           for d in rule["destinations"])
        lines.append(f"  {rule['id']}: {shares}")
    _print(args, campaign, "\n".join(lines))
    return 0


def action_command(args: argparse.Namespace) -> int:
    client = _client(args)
    revision = args.revision
    if revision is None:
        revision = client.request("GET", _path(args.id))["revision"]
    body = {"reason": args.reason} if args.action == "cancel" else None
    campaign = client.request("POST", _path(args.id, f"/{args.action}"), body,
                              headers={"If-Match": f'"{revision}"'})
    _print(args, campaign, _summary(campaign))
    return 0


def duplicate_command(args: argparse.Namespace) -> int:
    body = {name: value for name, value in (("id", args.new_id), ("code", args.code),
                                            ("name", args.name)) if value is not None}
    campaign = _client(args).request("POST", _path(args.id, "/duplicate"), body)
    _print(args, campaign, _summary(campaign))
    return 0


def parse_weights(pairs: list[str]) -> dict[str, int]:
    """`["d1=70", "d2=30"]` -> {"d1": 70, "d2": 30}; ValueError naming a bad pair."""
    out: dict[str, int] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name or not value.strip().isdigit():
            raise ValueError(f"{pair!r}: write DESTINATION=WEIGHT, a whole number >= 0")
        if name in out:
            raise ValueError(f"{name!r} is given twice")
        out[name] = int(value)
    return out


def reweighted(campaign: dict[str, Any], rule_id: str, weights: dict[str, int]
               ) -> dict[str, Any]:
    """The merge patch giving `rule_id`'s destinations `weights`; ValueError when the rule
    or a destination is not the campaign's."""
    if rule_id == "default":
        destinations, rules = campaign["default"], None
    else:
        rules = [dict(rule) for rule in campaign["rules"]]
        found = [rule for rule in rules if rule["id"] == rule_id]
        if not found:
            known = ", ".join([r["id"] for r in rules] + ["default"])
            raise ValueError(f"campaign {campaign['id']} has no rule {rule_id!r} ({known})")
        destinations = found[0]["destinations"]
    unknown = sorted(set(weights) - {d["id"] for d in destinations})
    if unknown:
        known = ", ".join(d["id"] for d in destinations)
        raise ValueError(f"rule {rule_id} has no destination {', '.join(unknown)} ({known})")
    changed = [{**d, "weight": weights.get(d["id"], d["weight"])} for d in destinations]
    if rules is None:
        return {"default": changed}
    for rule in rules:
        if rule["id"] == rule_id:
            rule["destinations"] = changed
    return {"rules": rules}


def weights_command(args: argparse.Namespace) -> int:
    from turnout.cli.api_client import ApiRefused

    client = _client(args)
    try:
        weights = parse_weights(args.weights)
    except ValueError as exc:
        raise ApiRefused(0, str(exc)) from None
    campaign = client.request("GET", _path(args.id))
    revision = campaign["revision"] if args.revision is None else args.revision
    try:
        patch = reweighted(campaign, args.rule, weights)
    except ValueError as exc:
        raise ApiRefused(0, str(exc)) from None
    changed = client.request("PATCH", _path(args.id), patch,
                             headers={"If-Match": f'"{revision}"'})
    path = changed["default"] if args.rule == "default" else next(
        r["destinations"] for r in changed["rules"] if r["id"] == args.rule)
    _print(args, changed, f"{_summary(changed)}\n  {args.rule}: " + ", ".join(
        f"{d['id']}={d['weight']}" for d in path))
    return 0
