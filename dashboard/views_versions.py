"""Graph versions (with their diff and a rollback) and the audit log."""

from __future__ import annotations

from starlette.datastructures import FormData
from starlette.responses import Response
from starlette.routing import Route

from turnout.dashboard.web import Refused, Visit, action, page, redirect


@page
async def versions(visit: Visit) -> Response:
    params = {"limit": "50"}
    cursor = visit.request.query_params.get("cursor")
    if cursor:
        params["cursor"] = cursor
    found = await visit.get("/api/v1/versions", params)
    return await visit.render("versions.html", page=found)


@page
async def diff(visit: Visit) -> Response:
    query = visit.request.query_params
    params = {k: query[k] for k in ("from", "to") if query.get(k)}
    answer = await visit.api("GET", "/api/v1/versions/diff", params=params)
    if not answer.ok:
        raise Refused(answer.status, answer.detail)
    return await visit.render("diff.html", diff=answer.body)


@action("editor")
async def rollback(visit: Visit, form: FormData) -> Response:
    number = int(visit.request.path_params["n"])
    answer = await visit.api("POST", f"/api/v1/versions/{number}/rollback")
    if not answer.ok:
        await visit.flash(f"Rollback to version {number} refused: {answer.detail}", "error")
    elif answer.body.get("changed"):
        await visit.flash(f"Rolled back to version {number}: published as version "
                          f"{answer.body.get('version')}.")
    else:
        await visit.flash(f"Version {number} is what is current already: nothing changed.")
    return redirect("/versions")


@page
async def audit(visit: Visit) -> Response:
    query = visit.request.query_params
    params = {k: query[k] for k in ("entity_kind", "entity_id", "cursor") if query.get(k)}
    params["limit"] = "50"
    found = await visit.get("/api/v1/audit", params)
    return await visit.render("audit.html", page=found, filters=params)


ROUTES = [
    Route("/versions", versions, methods=["GET"]),
    Route("/versions/diff", diff, methods=["GET"]),
    Route("/versions/{n:int}/rollback", rollback, methods=["POST"]),
    Route("/audit", audit, methods=["GET"]),
]
