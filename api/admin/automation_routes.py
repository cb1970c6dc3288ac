"""/api/v1/automation/rules[/{id}] (viewer reads, editor writes, If-Match on PUT and
DELETE) and /api/v1/automation/runs, the rules' history. The rules are
control/automation_rules.py's; these handlers parse, call and answer."""

from __future__ import annotations

from typing import Final

from starlette.requests import Request
from starlette.responses import Response

from turnout.api.admin.audit_routes import query_integer, refuse_unknown
from turnout.api.admin.bodies import json_response
from turnout.api.admin.entity_bodies import Deleted
from turnout.api.admin.routes import AdminRoute
from turnout.api.admin.writes import actor_of, if_match, read
from turnout.control import automation_rules, automation_runs
from turnout.control.automation_rules import Rule, RuleFields, RuleList
from turnout.control.automation_runs import RunPage

RUN_PARAMETERS: Final = frozenset({"rule", "cursor", "limit"})
DEFAULT_LIMIT: Final = 100


def _id(request: Request) -> str:
    return str(request.path_params["id"])


def _answer(rule: Rule, status: int = 200) -> Response:
    return json_response(rule, status=status, headers={"ETag": f'"{rule.revision}"'})


async def list_rules(request: Request) -> Response:
    who = actor_of(request)
    found = await read(request, lambda conn: automation_rules.list_rules(conn, who.workspace_id))
    return json_response(RuleList(items=found))


async def show_rule(request: Request) -> Response:
    who = actor_of(request)
    return _answer(await read(request, lambda conn: automation_rules.read(
        conn, who.workspace_id, _id(request))))


async def create_rule(request: Request, body: RuleFields) -> Response:
    who = actor_of(request)
    return _answer(await read(request, lambda conn: automation_rules.create(conn, who, body)),
                   status=201)


async def replace_rule(request: Request, body: RuleFields) -> Response:
    who, revision = actor_of(request), if_match(request)
    return _answer(await read(request, lambda conn: automation_rules.replace(
        conn, who, _id(request), body, revision)))


async def delete_rule(request: Request) -> Response:
    who, revision = actor_of(request), if_match(request)
    await read(request, lambda conn: automation_rules.delete(conn, who, _id(request), revision))
    return json_response(Deleted(id=_id(request), outcome="deleted"))


async def list_runs(request: Request) -> Response:
    who = actor_of(request)
    params = request.query_params
    refuse_unknown(params, RUN_PARAMETERS)
    limit = query_integer("limit", params.get("limit"), 1, automation_runs.MAX_PAGE) \
        or DEFAULT_LIMIT
    before = query_integer("cursor", params.get("cursor"), 1, 2**63 - 1)
    rule_id = params.get("rule")
    if rule_id is not None:  # 404 for a rule this workspace does not have
        await read(request, lambda conn: automation_rules.read(conn, who.workspace_id, rule_id))
    found = await read(request, lambda conn: automation_runs.runs(
        conn, who.workspace_id, rule_id=rule_id, before_id=before, limit=limit))
    cursor = str(found[-1].id) if len(found) == limit else None
    return json_response(RunPage(items=found, next_cursor=cursor))


_BASE, _ONE = "/api/v1/automation/rules", "/api/v1/automation/rules/{id}"
ROUTES: list[AdminRoute] = [
    AdminRoute("GET", _BASE, list_rules, "viewer", "The workspace's automation rules",
               response=RuleList),
    AdminRoute("POST", _BASE, create_rule, "editor", "Create an automation rule",
               body=RuleFields, response=Rule, status=201),
    AdminRoute("GET", _ONE, show_rule, "viewer", "One automation rule and its revision",
               response=Rule),
    AdminRoute("PUT", _ONE, replace_rule, "editor",
               "Replace an automation rule (If-Match: its revision)", body=RuleFields,
               response=Rule, if_match=True),
    AdminRoute("DELETE", _ONE, delete_rule, "editor",
               "Delete an automation rule, its cooldowns and history (If-Match)",
               response=Deleted, if_match=True),
    AdminRoute("GET", "/api/v1/automation/runs", list_runs, "viewer",
               "The automation rules' history, newest first (filter: rule; page: cursor, "
               "limit): what each run saw, did or would do, what failed, how long it took",
               response=RunPage),
]
