"""What every entity route shares: who writes (the key's workspace, its id, the request
id), If-Match, the control plane's refusals as problem+json, and the one sequence of a
write — one transaction, commit, then the publisher told what changed.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Final, Protocol

import psycopg
from starlette.requests import Request
from starlette.responses import Response

from turnout.api.admin.auth import request_id_of
from turnout.api.admin.bodies import json_response
from turnout.api.admin.principal import at_least, principal_of
from turnout.api.admin.state import connection
from turnout.api.problems import Problem
from turnout.config.errors import GraphInvalid
from turnout.control import audit
from turnout.control.entities import REFUSALS, Actor, Written
from turnout.control.entity_docs import Stored
from turnout.control.entity_errors import EntityConflict, EntityNotFound
from turnout.control.graph_write import StaleRevision
from turnout.control.lifecycle import TransitionRefused

_REVISION: Final = re.compile(r'^(?:W/)?"?([0-9]{1,18})"?$')


class Publisher(Protocol):
    """control/publisher.py's Publisher, as the routes use it (app.state.publisher)."""

    def changed(self, workspace_id: str, actor: str, note: str,
                entities: dict[str, list[str]]) -> None: ...


def actor_of(request: Request) -> Actor:
    principal = principal_of(request)
    return Actor(principal.workspace_id, principal.key_id, request_id_of(request))


def if_match(request: Request) -> int:
    """The revision a write is based on: `If-Match: 7` or `"7"`; 428 without one."""
    value = request.headers.get("if-match")
    if value is None:
        raise Problem(428, detail="send If-Match: <revision> (the revision you read: GET "
                                  "answers it as ETag and in the body); a write without it "
                                  "could overwrite another editor's change")
    match = _REVISION.match(value.strip())
    if match is None:
        raise Problem(400, detail="If-Match must be one revision, e.g. If-Match: \"7\"",
                      errors=[("headers.If-Match", f"not a revision: {value!r}")])
    return int(match.group(1))


def problem_of(exc: Exception) -> Problem:
    """A refusal of the control plane as the API answers it."""
    if isinstance(exc, EntityNotFound):
        return Problem(404, detail=str(exc))
    if isinstance(exc, StaleRevision):
        current = "" if exc.current is None else f" (it is at revision {exc.current})"
        headers = {} if exc.current is None else {"ETag": f'"{exc.current}"'}
        return Problem(412, detail=f"the {exc.kind} changed since you read it{current}: read "
                                   "it again, reapply your change, send the new revision",
                       headers=headers)
    if isinstance(exc, GraphInvalid):
        return Problem.invalid(exc.problems)
    if isinstance(exc, TransitionRefused):
        return Problem(409, detail=exc.reason, errors=[("status", str(exc))])
    if isinstance(exc, EntityConflict):
        return Problem(409, detail=exc.reason, errors=exc.errors)
    raise exc


Operation = Callable[[psycopg.AsyncConnection[Any], Actor], Awaitable[Written]]


def publish(request: Request, who: Actor, written: Iterable[Written]) -> None:
    """Tell the publisher what the committed writes changed (nothing when none did)."""
    changes = [w for w in written if w.changed]
    if not changes:
        return
    entities: dict[str, list[str]] = {}
    for w in changes:
        for kind, ids in w.entities.items():
            entities.setdefault(kind, []).extend(ids)
    note = "; ".join(w.note for w in changes)
    publisher: Publisher = request.app.state.publisher
    publisher.changed(who.workspace_id, who.actor, note, entities)


async def write(request: Request, operation: Operation) -> Written:
    """Run `operation` in one transaction; once it committed, publish what it changed."""
    who = actor_of(request)
    try:
        async with connection(request) as conn:
            written = await operation(conn, who)
    except REFUSALS as exc:
        raise problem_of(exc) from None
    publish(request, who, (written,))
    return written


async def read(request: Request, operation: Callable[[psycopg.AsyncConnection[Any]],
                                                     Awaitable[Any]]) -> Any:
    """A read in its own transaction, the refusals as problems."""
    try:
        async with connection(request) as conn:
            return await operation(conn)
    except REFUSALS as exc:
        raise problem_of(exc) from None


def hides_secrets(request: Request) -> bool:
    """Viewer keys read networks without their postback secret and HMAC key (masked as
    the audit log masks them): a viewer reads reports and settings, and with a network's
    secret anyone can post conversions."""
    return not at_least(principal_of(request), "editor")


def entity_response(stored: Stored, status: int = 200, *, masked: bool = False) -> Response:
    document = stored.shown()
    return json_response(audit.mask(document) if masked else document, status=status,
                         headers={"ETag": f'"{stored.revision}"'})
