"""Graph versions, export and import of the key's workspace (SPEC §10):

- `GET /api/v1/versions`: the versions that changed the workspace, newest first, each with
  its actors, notes and changed ids in that workspace (a version gathers the changes of a
  window, across workspaces: a key sees its own part).
- `GET /api/v1/versions/diff?from=A&to=B`: what changed in the workspace between two.
- `POST /api/v1/versions/{n}/rollback`: the workspace's entities as version n had them,
  stored (one transaction, audited) and published as a new version; other workspaces keep
  theirs.
- `GET /api/v1/export?format=yaml|json`: the workspace's entities in the graph file format.
- `POST /api/v1/import` (YAML or JSON body; `dry_run=true`): make the workspace equal the
  file; a dry run answers its problems and diff and changes nothing.

Handlers only parse, call control/workspace_graph.py and map its errors.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Final

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from turnout.api.admin.auth import request_id_of
from turnout.api.admin.bodies import json_response
from turnout.api.admin.principal import principal_of
from turnout.api.admin.routes import AdminRoute
from turnout.api.admin.state import connection
from turnout.api.problems import Problem
from turnout.config.errors import ConfigError, GraphInvalid, VersionNotFound
from turnout.config.errors import Problem as GraphProblem
from turnout.config.io import FORMATS, dump_graph, load_graph
from turnout.control import versions, workspace_graph
from turnout.control.errors import ControlError
from turnout.control.publisher import Publisher

MAX_IMPORT: Final = 64 * 1024 * 1024  # a 10,000-campaign graph is ~35 MB of YAML
DEFAULT_LIMIT: Final = 100
MAX_LIMIT: Final = 500
MEDIA: Final = {"yaml": "application/yaml", "json": "application/json"}


class VersionOut(msgspec.Struct, kw_only=True):
    version: int
    published_at: dt.datetime
    actors: list[str]
    """Key ids (or `governor`) whose changes in this workspace the version publishes."""
    notes: list[str]
    changed: dict[str, list[str]]
    """Ids of this workspace's entities it added, changed or removed, by kind."""


class Publishing(msgspec.Struct, kw_only=True):
    current: int | None
    """The newest version this API process knows of."""
    pending: bool
    """Changes are committed and waiting for their version (at most a window, 250 ms,
    unless Redis or PostgreSQL is out of reach)."""
    held_back: bool
    """A change waits because the stored graph does not validate (see the API's log)."""


class VersionPage(msgspec.Struct, kw_only=True):
    items: list[VersionOut]
    next_cursor: str | None
    """Pass as `cursor` for the next (older) page; null on the last one."""
    publishing: Publishing


class DiffOut(msgspec.Struct, kw_only=True, rename={"old": "from", "new": "to"}):
    old: int
    new: int
    changes: list[str]
    """One line per changed path, e.g. `campaigns[camp-a].rules[usa].destinations[global].
    weight: 50 -> 70`; secrets show as changed, never their values."""


class ProblemOut(msgspec.Struct, kw_only=True):
    path: str
    message: str


class ImportOut(msgspec.Struct, kw_only=True):
    dry_run: bool
    valid: bool
    problems: list[ProblemOut]
    """Empty unless a dry run found some (an import with problems answers 422)."""
    diff: list[str]
    """What the import changes (changed), or would change (a dry run)."""
    changed: dict[str, list[str]]
    """Ids of the entities it created, changed or deleted, by kind (empty on a dry run)."""
    version: int | None
    """The version publishing the import; null when nothing changed, or when it is
    committed but waits for Redis to be published."""


class RollbackOut(msgspec.Struct, kw_only=True):
    restores: int
    changed: dict[str, list[str]]
    version: int | None
    """The new version bringing the workspace back to `restores` (null: nothing changed,
    or it waits for Redis)."""


def publisher_of(request: Request) -> Publisher:
    publisher: Publisher = request.app.state.publisher
    return publisher


def _query(request: Request, allowed: frozenset[str]) -> Any:
    params = request.query_params
    unknown = sorted(set(params) - allowed)
    if unknown:
        raise Problem(400, detail=f"unknown parameter(s): {', '.join(unknown)}",
                      errors=[(f"query.{name}", "unknown parameter") for name in unknown])
    return params


def _number(name: str, value: str | None, *, low: int = 1, high: int = 2**62,
            required: bool = False) -> int | None:
    if value is None and not required:
        return None
    if value is None or not value.isdigit() or not low <= int(value) <= high:
        raise Problem(400, detail=f"{name}: an integer from {low} to {high}",
                      errors=[(f"query.{name}", f"expected an integer {low}..{high}")])
    return int(value)


def _flag(name: str, value: str | None) -> bool:
    if value is None or value.lower() in ("false", "0", "no"):
        return False
    if value.lower() in ("true", "1", "yes", ""):
        return True
    raise Problem(400, detail=f"{name}: true or false", errors=[(f"query.{name}",
                                                                  "expected true or false")])


async def list_versions(request: Request) -> Response:
    principal = principal_of(request)
    params = _query(request, frozenset({"cursor", "limit"}))
    limit = _number("limit", params.get("limit"), high=MAX_LIMIT) or DEFAULT_LIMIT
    before = _number("cursor", params.get("cursor"))
    async with connection(request) as conn:
        found = await versions.listing(conn, principal.workspace_id, before=before,
                                       limit=limit + 1)
    items = [VersionOut(version=v.version, published_at=v.published_at, actors=v.actors,
                        notes=v.notes, changed=v.changed) for v in found[:limit]]
    publisher = publisher_of(request)
    return json_response(VersionPage(
        items=items, next_cursor=str(items[-1].version) if len(found) > limit else None,
        publishing=Publishing(current=publisher.last_version, pending=publisher.pending,
                              held_back=publisher.held_back)))


async def diff_versions(request: Request) -> Response:
    principal = principal_of(request)
    params = _query(request, frozenset({"from", "to"}))
    old = _number("from", params.get("from"), required=True)
    new = _number("to", params.get("to"), required=True)
    assert old is not None and new is not None
    try:
        async with connection(request) as conn:
            lines = await workspace_graph.version_diff(conn, principal.workspace_id, old, new)
    except VersionNotFound as exc:
        raise Problem(404, detail=str(exc)) from None
    return json_response(DiffOut(old=old, new=new, changes=lines))


async def _published(request: Request) -> int | None:
    """Publish what is pending now; the version (None when Redis is out of reach: the
    change is committed and the publisher tries again)."""
    try:
        return await publisher_of(request).flush()
    except (ConfigError, ControlError):
        return None


async def _store(request: Request, plan_for: Any, action: str, note: str
                 ) -> tuple[dict[str, list[str]], list[str]]:
    """Plan (with `plan_for(conn)`), refuse with every problem, or store and audit, in one
    transaction; then tell the publisher."""
    principal = principal_of(request)
    published = await publisher_of(request).graph()
    async with connection(request) as conn:
        graph = await plan_for(conn)
        plan = await workspace_graph.plan(conn, principal.workspace_id, graph, published)
        if plan.problems:
            raise Problem.invalid(plan.problems, detail=f"the {action} has problems")
        changed = await workspace_graph.apply(conn, plan, actor=principal.key_id,
                                              action=action, request_id=request_id_of(request))
    if changed:
        publisher_of(request).changed(principal.workspace_id, principal.key_id, note, changed)
    return changed, plan.diff


async def rollback(request: Request) -> Response:
    principal = principal_of(request)
    params = _query(request, frozenset({"note"}))
    restores = int(request.path_params["n"])
    note = params.get("note") or f"rollback to version {restores}"

    async def part(conn: Any) -> Any:
        return await workspace_graph.at_version(conn, principal.workspace_id, restores)

    try:
        changed, _ = await _store(request, part, "rollback", note)
    except (VersionNotFound, workspace_graph.NothingAtVersion) as exc:
        raise Problem(404, detail=str(exc)) from None
    version = await _published(request) if changed else None
    return json_response(RollbackOut(restores=restores, changed=changed, version=version))


async def export_graph(request: Request) -> Response:
    principal = principal_of(request)
    params = _query(request, frozenset({"format"}))
    form = params.get("format", "yaml")
    if form not in FORMATS:
        raise Problem(400, detail="format: yaml or json",
                      errors=[("query.format", "expected yaml or json")])
    async with connection(request) as conn:
        graph = await workspace_graph.export(conn, principal.workspace_id)
    return Response(dump_graph(graph, form), media_type=MEDIA[form])


async def _text(request: Request) -> str:
    if int(request.headers.get("content-length") or 0) > MAX_IMPORT:
        raise Problem(413, detail=f"imports are at most {MAX_IMPORT} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_IMPORT:
            raise Problem(413, detail=f"imports are at most {MAX_IMPORT} bytes")
        chunks.append(chunk)
    try:
        return b"".join(chunks).decode("utf-8")
    except UnicodeDecodeError:
        raise Problem(400, detail="the body is not UTF-8 text") from None


def _format(request: Request) -> str | None:
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind in ("application/json",):
        return "json"
    if kind in ("application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml"):
        return "yaml"
    return None  # guessed from the text


def _problems(problems: list[GraphProblem]) -> list[ProblemOut]:
    return [ProblemOut(path=p.path, message=p.message) for p in problems]


async def import_graph(request: Request) -> Response:
    principal = principal_of(request)
    params = _query(request, frozenset({"dry_run", "note"}))
    dry_run = _flag("dry_run", params.get("dry_run"))
    text = await _text(request)
    if not text.strip():
        raise Problem(422, detail="the body is empty: send a YAML or JSON graph")
    try:
        # A newline: load_graph takes a one-line string for a file name.
        graph = load_graph(text if "\n" in text else text + "\n", _format(request))  # type: ignore[arg-type]
    except GraphInvalid as exc:
        if not dry_run:
            raise Problem.invalid(exc.problems, detail="the graph does not parse") from None
        return json_response(ImportOut(dry_run=True, valid=False,
                                       problems=_problems(exc.problems), diff=[], changed={},
                                       version=None))
    if dry_run:
        published = await publisher_of(request).graph()
        async with connection(request) as conn:
            plan = await workspace_graph.plan(conn, principal.workspace_id, graph, published)
        return json_response(ImportOut(dry_run=True, valid=not plan.problems,
                                       problems=_problems(plan.problems), diff=plan.diff,
                                       changed={}, version=None))
    note = params.get("note") or "import"

    async def parsed(conn: Any) -> Any:
        return graph

    changed, diff = await _store(request, parsed, "import", note)
    version = await _published(request) if changed else None
    return json_response(ImportOut(dry_run=False, valid=True, problems=[], diff=diff,
                                   changed=changed, version=version))


ROUTES: list[AdminRoute] = [
    AdminRoute("GET", "/api/v1/versions", list_versions, "viewer",
               "The graph versions that changed this workspace, newest first",
               response=VersionPage),
    AdminRoute("GET", "/api/v1/versions/diff", diff_versions, "viewer",
               "What changed in this workspace from version `from` to version `to`",
               response=DiffOut),
    AdminRoute("POST", "/api/v1/versions/{n:int}/rollback", rollback, "editor",
               "Store this workspace's entities as version n had them, and publish",
               response=RollbackOut),
    AdminRoute("GET", "/api/v1/export", export_graph, "viewer",
               "This workspace's entities as a graph file (format=yaml|json)"),
    AdminRoute("POST", "/api/v1/import", import_graph, "editor",
               "Make this workspace equal a YAML or JSON graph (dry_run=true: only check "
               "and diff)", response=ImportOut),
]
