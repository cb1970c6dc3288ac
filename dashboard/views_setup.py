"""The guided setup: the design notes' two questions (what is promoted, and where) pick a
built-in template; the picks (ids, the source, the offers) create the campaign through
POST /api/v1/campaigns/from-template."""

from __future__ import annotations

from typing import Any, Final

from starlette.datastructures import FormData
from starlette.responses import Response
from starlette.routing import Route

from turnout.dashboard import campaign_form
from turnout.dashboard.web import Refused, Visit, action, page, redirect, text_fields

OFFER_ROWS: Final = 3
_LIST_FIELDS: Final = ("countries", "devices", "os")


def _chosen(templates: list[dict[str, Any]], promoted: str, where: str,
            template_id: str) -> dict[str, Any] | None:
    for template in templates:
        if template_id and template["id"] == template_id:
            return template
        if not template_id and template.get("builtin") and \
                (template["promoted"], template["where"]) == (promoted, where):
            return template
    return None


async def _setup(visit: Visit, answers: dict[str, str], *, status: int = 200,
                 picks: dict[str, Any] | None = None, problems: dict[str, str] | None = None,
                 message: str = "") -> Response:
    listing = await visit.get("/api/v1/templates")
    template = _chosen(listing["items"], answers.get("promoted", ""),
                       answers.get("where", ""), answers.get("template", ""))
    refs = {segment: (await visit.get(f"/api/v1/{segment}", {"limit": "1000"}))["items"]
            for segment in ("traffic-sources", "offers", "landers", "networks")}
    picks = picks or {}
    offers = list(picks.get("offers") or [])
    offers += [{} for _ in range(OFFER_ROWS - len(offers))]
    fields = [f"picks.{name}" for name in ("campaign_id", "name", "code", "traffic_source",
                                           "new_traffic_source", "safe_page", "inactive_page",
                                           "offers", "landers", "parent")]
    fields += [f"picks.offers[{i}]" for i in range(len(offers))] + ["template", "promoted",
                                                                    "where"]
    at, loose = campaign_form.placed(problems or {}, fields)
    return await visit.render("setup.html", status=status, questions=listing["questions"],
                              templates=listing["items"], template=template, answers=answers,
                              picks=picks, offers=offers, refs=refs, at=at, loose=loose,
                              message=message)


def _answers(pairs: list[tuple[str, str]]) -> dict[str, str]:
    return {k: v for k, v in pairs if k in ("promoted", "where", "template") and v}


@page
async def setup_page(visit: Visit) -> Response:
    visit.require("editor")
    return await _setup(visit, _answers(list(visit.request.query_params.multi_items())))


def _picks(form: list[tuple[str, str]]) -> dict[str, Any]:
    nested = campaign_form.nest((k, v) for k, v in form if k.startswith("picks."))
    picks: dict[str, Any] = {k: v.strip() for k, v in nested.get("picks", {}).items()
                             if isinstance(v, str) and v.strip()}
    offers = []
    for row in nested.get("picks", {}).get("offers", []):
        if not isinstance(row, dict) or not (row.get("id") or "").strip():
            continue
        offer: dict[str, Any] = {"id": row["id"].strip()}
        for name in _LIST_FIELDS:
            values = [v.strip() for v in (row.get(name) or "").split(",") if v.strip()]
            if values:
                offer[name] = values
        lander = (row.get("lander") or "").strip()
        if lander:
            offer["lander"] = {"id": lander}
        offers.append(offer)
    picks["offers"] = offers
    new_source = nested.get("picks", {}).get("new_traffic_source") or {}
    if isinstance(new_source, dict) and (new_source.get("id") or "").strip():
        picks.pop("traffic_source", None)
        picks["new_traffic_source"] = {"id": new_source["id"].strip(),
                                       "name": (new_source.get("name") or "").strip()
                                       or new_source["id"].strip()}
    return picks


@action("editor")
async def create(visit: Visit, form: FormData) -> Response:
    pairs = text_fields(form)
    answers = _answers(pairs)
    try:
        picks = _picks(pairs)
    except campaign_form.FormError as exc:
        raise Refused(400, str(exc)) from None
    body: dict[str, Any] = {"picks": picks}
    if answers.get("template"):
        body["template"] = answers["template"]
    else:
        body.update(promoted=answers.get("promoted"), where=answers.get("where"))
    answer = await visit.api("POST", "/api/v1/campaigns/from-template", body=body)
    if answer.ok:
        campaigns = answer.body["created"].get("campaigns", [])
        await visit.flash(f"Created {', '.join(c['name'] for c in campaigns)} from "
                          f"“{answer.body['template']['name']}” (a draft: check it, then "
                          "activate).")
        return redirect(f"/campaigns/{campaigns[0]['id']}" if campaigns else "/campaigns")
    return await _setup(visit, answers, status=answer.status, picks=picks,
                        problems=answer.problems(),
                        message=f"Not created: {answer.detail}")


ROUTES = [
    Route("/setup", setup_page, methods=["GET"]),
    Route("/setup", create, methods=["POST"]),
]
