"""The campaign list: today's clicks, conversions, revenue, cost, profit and ROI per
campaign, a status toggle on each row and bulk actions on the ticked ones."""

from __future__ import annotations

from typing import Final

from starlette.datastructures import FormData
from starlette.responses import Response
from starlette.routing import Route

from turnout.control.lifecycle import allowed_actions
from turnout.dashboard.today import by, kinds, today
from turnout.dashboard.web import Refused, Visit, action, page, query_pairs, redirect

# The one-click toggle of a row: what a media buyer means by "on/off".
TOGGLES: Final = {"draft": "activate", "active": "pause", "paused": "resume"}
BULK: Final = ("activate", "pause", "resume", "delete")
# The API's bulk route has no resume: the dashboard resumes the ticked campaigns one by one.
ONE_BY_ONE: Final = frozenset({"resume"})
STATUSES: Final = ("draft", "active", "paused", "completed", "cancelled")


@page
async def campaign_list(visit: Visit) -> Response:
    params = dict(query_pairs(visit.request.query_params))
    listing = {k: v for k, v in params.items() if k in ("status", "q")}
    campaigns = await visit.get("/api/v1/campaigns", {**listing, "limit": "1000",
                                                      "sort": "name"})
    figures = await today(visit, "campaign")
    return await visit.render(
        "campaigns.html", campaigns=campaigns["items"], figures=by(figures, "campaign"),
        totals=figures.get("totals"), kinds=kinds(figures), currency=figures["currency"],
        timezone=figures["timezone"], date=figures["date"], toggles=TOGGLES, bulk=BULK,
        statuses=STATUSES, allowed=allowed_actions, listing=listing)


def _revision(form: FormData) -> int:
    raw = form.get("revision")
    if not isinstance(raw, str) or not raw.isdigit():
        raise Refused(400, "the form has no revision: reload the page")
    return int(raw)


@action("editor")
async def campaign_action(visit: Visit, form: FormData) -> Response:
    campaign_id = str(visit.request.path_params["id"])
    verb = str(visit.request.path_params["action"])
    if verb not in ("activate", "pause", "resume", "complete", "cancel"):
        raise Refused(404, f"no campaign action {verb!r}")
    body = None
    if verb == "cancel":
        reason = form.get("reason")
        body = {"reason": reason.strip() if isinstance(reason, str) else ""}
    answer = await visit.api("POST", f"/api/v1/campaigns/{campaign_id}/{verb}", body=body,
                             revision=_revision(form))
    if answer.ok:
        await visit.flash(f"{answer.body['name']}: {answer.body['status']}")
    elif answer.status == 412:
        await visit.flash(f"{campaign_id} was changed by someone else since this page was "
                          "loaded; nothing was done. Here it is as it is now.", "error")
    else:
        problems = "; ".join(m for m in answer.problems().values())
        await visit.flash(f"Could not {verb} {campaign_id}: {answer.detail}"
                          f"{' (' + problems + ')' if problems else ''}", "error")
    back = form.get("back")
    return redirect(back if isinstance(back, str) and back.startswith("/campaigns") else
                    "/campaigns")


@action("editor")
async def bulk_action(visit: Visit, form: FormData) -> Response:
    verb = form.get("action")
    ids = [v for v in form.getlist("ids") if isinstance(v, str)]
    if verb not in BULK:
        raise Refused(400, "choose activate, pause, resume or delete")
    if not ids:
        await visit.flash("Tick the campaigns first.", "error")
        return redirect("/campaigns")
    if verb in ONE_BY_ONE:
        for campaign_id in ids:
            await _one(visit, str(verb), campaign_id)
        return redirect("/campaigns")
    answer = await visit.api("POST", f"/api/v1/campaigns/bulk/{verb}", body={"ids": ids})
    if not answer.ok:
        await visit.flash(f"Could not {verb}: {answer.detail}", "error")
        return redirect("/campaigns")
    for result in answer.body["results"]:
        if result["status"] == 200:
            await visit.flash(f"{result['id']}: {result.get('outcome', 'done')}")
        else:
            await visit.flash(f"{result['id']}: {result.get('error', 'refused')}", "error")
    return redirect("/campaigns")


async def _one(visit: Visit, verb: str, campaign_id: str) -> None:
    """`verb` on one campaign at its current revision, the outcome flashed."""
    found = await visit.api("GET", f"/api/v1/campaigns/{campaign_id}")
    answer = found if not found.ok else await visit.api(
        "POST", f"/api/v1/campaigns/{campaign_id}/{verb}", revision=found.body["revision"])
    if answer.ok:
        await visit.flash(f"{campaign_id}: {answer.body['status']}")
    else:
        problems = "; ".join(answer.problems().values())
        await visit.flash(f"{campaign_id}: could not {verb}: {problems or answer.detail}",
                          "error")


ROUTES = [
    Route("/campaigns", campaign_list, methods=["GET"]),
    Route("/campaigns/bulk", bulk_action, methods=["POST"]),
    Route("/campaigns/{id}/{action}", campaign_action, methods=["POST"]),
]
