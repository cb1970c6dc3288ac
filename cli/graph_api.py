"""The graph verbs through a running `turnout api` (TURNOUT_API_URL, TURNOUT_API_KEY): the
same import, export, versions, diff and rollback the admin API gives any client, scoped
to the key's workspace. `turnout graph publish FILE` is an import, so the YAML workflow
and the API never diverge; `turnout graph export` writes what `GET /api/v1/export` does.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import orjson

from turnout.cli.api_client import ApiClient
from turnout.errors import EXIT_BAD_INPUT

MEDIA = {".json": "application/json", ".yaml": "application/yaml",
         ".yml": "application/yaml"}


def _query(**params: Any) -> str:
    found = {k: v for k, v in params.items() if v not in (None, "", False)}
    return "?" + urlencode(found) if found else ""


def _print_problems(path: Path, problems: list[dict[str, str]]) -> None:
    for problem in problems:
        print(f"{problem['path']}: {problem['message']}" if problem["path"]
              else problem["message"])
    print(f"{path}: {len(problems)} problem(s)")


def send_file(client: ApiClient, path: Path, *, dry_run: bool, note: str = "") -> Any:
    """POST the file to /api/v1/import; the decoded answer."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        print(f"error: cannot read {path}: {exc}", file=sys.stderr)
        return None
    media = MEDIA.get(path.suffix.lower(), "application/yaml")
    return orjson.loads(client.send("POST", "/api/v1/import" + _query(
        dry_run="true" if dry_run else None, note=note), data, media))


def validate(client: ApiClient, path: Path) -> int:
    """A dry-run import: the file's problems (also those against other workspaces) and
    what it would change."""
    answer = send_file(client, path, dry_run=True)
    if answer is None:
        return EXIT_BAD_INPUT
    if not answer["valid"]:
        _print_problems(path, answer["problems"])
        return EXIT_BAD_INPUT
    print(f"{path}: ok; importing it would change:" if answer["diff"]
          else f"{path}: ok; importing it would change nothing")
    for line in answer["diff"]:
        print(f"  {line}")
    return 0


def publish(client: ApiClient, path: Path, note: str) -> int:
    """Import the file (one transaction, audited, published): prints the version."""
    answer = send_file(client, path, dry_run=False, note=note or f"import {path.name}")
    if answer is None:
        return EXIT_BAD_INPUT
    if answer["version"] is not None:
        print(answer["version"])
    elif answer["changed"]:
        print("imported; the version waits for Redis (the API publishes it when it "
              "answers)", file=sys.stderr)
    else:
        print("no changes", file=sys.stderr)
    return 0


def export(client: ApiClient, form: str, out: Path | None) -> int:
    text = client.send("GET", "/api/v1/export" + _query(format=form),
                       accept="application/yaml" if form == "yaml" else "application/json")
    if out is None:
        sys.stdout.write(text.decode())
    else:
        out.write_bytes(text)
    return 0


def versions(client: ApiClient, limit: int) -> int:
    page = client.request("GET", "/api/v1/versions" + _query(limit=limit))
    current = page["publishing"]["current"]
    for item in page["items"]:
        mark = "*" if item["version"] == current else " "
        when = item["published_at"].replace("T", " ")[:19]
        changed = ", ".join(f"{len(ids)} {kind.replace('_', ' ')}"
                            for kind, ids in item["changed"].items()) or "no change"
        by = f" by {','.join(item['actors'])}" if item["actors"] else ""
        print(f"{mark} {item['version']:>5}  {when}Z  {changed:<24} "
              f"{'; '.join(item['notes'])}{by}")
    if page["publishing"]["pending"]:
        print("(changes are waiting to be published)")
    return 0


def diff(client: ApiClient, old: int, new: int) -> int:
    answer = client.request("GET", "/api/v1/versions/diff" + _query(**{"from": old, "to": new}))
    print("\n".join(answer["changes"]) if answer["changes"] else "no changes")
    return 0


def rollback(client: ApiClient, version: int, note: str) -> int:
    answer = client.request("POST", f"/api/v1/versions/{version}/rollback" + _query(note=note))
    if answer["version"] is not None:
        print(answer["version"])
    else:
        print("no changes" if not answer["changed"] else
              "rolled back; the version waits for Redis", file=sys.stderr)
    return 0
