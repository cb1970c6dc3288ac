"""List parameters of the entity routes: `limit` (1..1000, default 100), `cursor` (opaque,
from the previous page's `next_cursor`), `sort` (`name`, `-updated_at`, …; default:
creation order), `q` (id, name or code contains), and for campaigns `status` (one or a
comma list) and `parent`. Anything else is a 400 naming the parameter. Campaigns are
listed without their rules and default path (control/entity_list.py).
"""

from __future__ import annotations

import base64
import binascii
from typing import Any, Final

import orjson
from starlette.datastructures import QueryParams
from starlette.responses import Response

from turnout.api.problems import Problem
from turnout.config.model import STATUSES
from turnout.control.entity_list import CAMPAIGN_ONLY, MAX_LIMIT, ListQuery, Page, sort_keys

DEFAULT_LIMIT: Final = 100
_PARAMS: Final = frozenset({"limit", "cursor", "sort", "q", "status", "parent"})


def _bad(name: str, message: str) -> Problem:
    return Problem(400, detail=f"{name}: {message}", errors=[(name, message)])


def encode_cursor(query: ListQuery, after: tuple[Any, str]) -> str:
    raw = orjson.dumps([query.sort, query.descending, *after])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(text: str, sort: str, descending: bool) -> tuple[Any, str]:
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        cursor_sort, cursor_descending, value, last_id = orjson.loads(raw)
    except (binascii.Error, ValueError, TypeError):
        raise _bad("cursor", "not a cursor this API gave out") from None
    if (cursor_sort, cursor_descending) != (sort, descending) or not isinstance(last_id, str):
        raise _bad("cursor", "belongs to another sort order: keep the sort of the first page")
    return value, last_id


def list_query(kind: str, params: QueryParams, *, parent: str | None = None) -> ListQuery:
    """The ListQuery of a request's parameters (`parent` fixed: a campaign's children)."""
    unknown = sorted(set(params) - _PARAMS)
    if unknown:
        raise Problem(400, detail=f"unknown parameter(s): {', '.join(unknown)}",
                      errors=[(name, "unknown parameter") for name in unknown])
    misplaced = sorted(CAMPAIGN_ONLY & set(params)) if kind != "campaigns" else []
    if misplaced:
        raise _bad(misplaced[0], "only campaigns have one")
    try:
        limit = int(params.get("limit", DEFAULT_LIMIT))
    except ValueError:
        raise _bad("limit", f"an integer from 1 to {MAX_LIMIT}") from None
    if not 1 <= limit <= MAX_LIMIT:
        raise _bad("limit", f"an integer from 1 to {MAX_LIMIT}")
    sort = params.get("sort", "")
    descending = sort.startswith("-")
    key = sort.removeprefix("-") or "seq"
    if key != "seq" and key not in sort_keys(kind):
        raise _bad("sort", f"one of {', '.join(sort_keys(kind))}, '-' first for descending")
    statuses = tuple(s for value in params.getlist("status") for s in value.split(",") if s)
    wrong = [s for s in statuses if s not in STATUSES]
    if wrong:
        raise _bad("status", f"one or more of {', '.join(STATUSES)}; got {', '.join(wrong)}")
    if "parent" in params and parent is not None:
        raise _bad("parent", "already given by the path")
    cursor = params.get("cursor")
    return ListQuery(
        sort=key, descending=descending, limit=limit, status=statuses,
        parent=parent if parent is not None else params.get("parent") or None,
        q=params.get("q") or None,
        after=None if cursor is None else _decode_cursor(cursor, key, descending))


def page_response(query: ListQuery, page: Page) -> Response:
    """`{"items": [...], "next_cursor": ...}`, the items as the store encoded them."""
    cursor = None if page.after is None else encode_cursor(query, page.after)
    body = b'{"items":' + page.items + b',"next_cursor":' + orjson.dumps(cursor) + b"}"
    return Response(body, media_type="application/json")
