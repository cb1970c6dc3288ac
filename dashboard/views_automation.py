"""Automation rules and their execution history (#12's /api/v1/automation), with the two
switches a buyer flips most: enabled and dry run (a PUT of the rule with If-Match)."""

from __future__ import annotations

from typing import Final

from starlette.datastructures import FormData
from starlette.responses import Response
from starlette.routing import Route

from turnout.dashboard.web import Refused, Visit, action, page, redirect

SWITCHES: Final = ("enabled", "dry_run")


@page
async def automation(visit: Visit) -> Response:
    rules = (await visit.get("/api/v1/automation/rules"))["items"]
    params = {"limit": "50"}
    chosen = visit.request.query_params.get("rule")
    if chosen:
        params["rule"] = chosen
    runs = await visit.get("/api/v1/automation/runs", params)
    return await visit.render("automation.html", rules=rules, runs=runs["items"],
                              chosen=chosen or "")


@action("editor")
async def switch(visit: Visit, form: FormData) -> Response:
    rule_id = str(visit.request.path_params["id"])
    name = str(visit.request.path_params["switch"])
    if name not in SWITCHES:
        raise Refused(404, f"no switch {name!r}")
    rule = await visit.get(f"/api/v1/automation/rules/{rule_id}")
    revision = form.get("revision")
    if not isinstance(revision, str) or not revision.isdigit():
        raise Refused(400, "the form has no revision: reload the page")
    body = {k: v for k, v in rule.items() if k != "revision"}
    body[name] = not rule[name]
    answer = await visit.api("PUT", f"/api/v1/automation/rules/{rule_id}", body=body,
                             revision=int(revision))
    if answer.ok:
        state = "on" if answer.body[name] else "off"
        await visit.flash(f"{answer.body['name']}: {name.replace('_', ' ')} {state}")
    elif answer.status == 412:
        await visit.flash(f"{rule_id} was changed by someone else since this page was "
                          "loaded; nothing was done. Here it is as it is now.", "error")
    else:
        await visit.flash(f"Could not change {rule_id}: {answer.detail}", "error")
    return redirect("/automation")


ROUTES = [
    Route("/automation", automation, methods=["GET"]),
    Route("/automation/{id}/{switch}", switch, methods=["POST"]),
]
