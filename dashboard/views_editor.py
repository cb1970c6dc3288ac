"""The campaign editor: rules, conditions, weighted destinations (with their live share),
budget, caps, schedule, cost model, redirect mode and bot policy, saved by the API's PUT
with If-Match. A 422 shows each problem at its field; a 412 says someone else saved first
and keeps the edit on the page."""

from __future__ import annotations

from typing import Any, Final

from starlette.datastructures import FormData
from starlette.responses import Response
from starlette.routing import Route

from turnout.config.model import BOT_ACTIONS, BUDGET_PERIODS, COST_MODELS, DESTINATION_KINDS
from turnout.control.lifecycle import allowed_actions
from turnout.dashboard import campaign_form
from turnout.dashboard.web import Refused, Visit, action, page, redirect, text_fields
from turnout.splitter.types import ConditionKind

REDIRECT_MODES: Final = ("302", "307", "301", "meta", "double_meta")
CONDITION_KINDS: Final = tuple(kind.value for kind in ConditionKind)
_CHOICES: Final = {"cost_models": COST_MODELS, "bot_actions": BOT_ACTIONS,
                   "periods": BUDGET_PERIODS, "destination_kinds": DESTINATION_KINDS,
                   "redirect_modes": REDIRECT_MODES, "condition_kinds": CONDITION_KINDS}


async def _references(visit: Visit) -> dict[str, list[dict[str, Any]]]:
    found = {}
    for segment in ("traffic-sources", "offers", "landers", "funnels"):
        found[segment] = (await visit.get(f"/api/v1/{segment}", {"limit": "1000"}))["items"]
    return found


async def _editor(visit: Visit, campaign_id: str, document: dict[str, Any], revision: int,
                  *, status: int = 200, problems: dict[str, str] | None = None,
                  message: str = "") -> Response:
    at, loose = campaign_form.placed(problems or {}, campaign_form.paths(document))
    return await visit.render(
        "editor.html", status=status, campaign_id=campaign_id, doc=document,
        revision=revision, at=at, loose=loose, message=message,
        thresholds=campaign_form.thresholds_text(document.get("budget")),
        allowed=allowed_actions(str(document.get("status", "draft"))),
        refs=await _references(visit), **_CHOICES)


def _budget(document: dict[str, Any]) -> dict[str, Any]:
    """The stored budget in the form's shape (a bare amount is a total budget)."""
    budget = document.get("budget")
    if isinstance(budget, str):
        document["budget"] = {"amount": budget, "period": "total"}
    return document


@page
async def edit_page(visit: Visit) -> Response:
    campaign_id = str(visit.request.path_params["id"])
    stored = await visit.get(f"/api/v1/campaigns/{campaign_id}")
    return await _editor(visit, campaign_id, _budget(dict(stored)), stored["revision"])


@action("editor")
async def save(visit: Visit, form: FormData) -> Response:
    campaign_id = str(visit.request.path_params["id"])
    raw = form.get("revision")
    if not isinstance(raw, str) or not raw.isdigit():
        raise Refused(400, "the form has no revision: reload the page")
    revision = int(raw)
    try:
        edited = campaign_form.submitted(text_fields(form))
        op = form.get("op")
        if isinstance(op, str) and op:
            shown = campaign_form.apply(edited, op)
            stored = await visit.get(f"/api/v1/campaigns/{campaign_id}")
            return await _editor(visit, campaign_id, {**stored, **shown}, revision)
    except campaign_form.FormError as exc:
        raise Refused(400, str(exc)) from None
    stored = await visit.get(f"/api/v1/campaigns/{campaign_id}")
    body = campaign_form.document(stored, edited)
    answer = await visit.api("PUT", f"/api/v1/campaigns/{campaign_id}", body=body,
                             revision=revision)
    if answer.ok:
        await visit.flash(f"Saved {answer.body['name']} (revision {answer.body['revision']}); "
                          "the edges get the new version within a second.")
        return redirect(f"/campaigns/{campaign_id}")
    shown = {**stored, **edited}
    if answer.status == 412:
        return await _editor(
            visit, campaign_id, shown, revision, status=412,
            message=f"Not saved: someone else changed this campaign since you opened it "
                    f"(it is at revision {stored['revision']} now, you edited "
                    f"{revision}). Your edit is still below; reload the page to see theirs "
                    "and make your change again.")
    if answer.status == 422:
        return await _editor(visit, campaign_id, shown, revision, status=422,
                             problems=answer.problems(),
                             message="Not saved: fix the fields marked below.")
    return await _editor(visit, campaign_id, shown, revision, status=answer.status,
                         message=f"Not saved: {answer.detail}")


ROUTES = [
    Route("/campaigns/{id}", edit_page, methods=["GET"]),
    Route("/campaigns/{id}", save, methods=["POST"]),
]
