"""Graph versions (with their diff and a rollback), the audit log, and the budget and cap
status of the workspace's campaigns and offers."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from starlette.datastructures import FormData
from starlette.responses import Response
from starlette.routing import Route

from turnout.config import meters, overlay
from turnout.dashboard.today import by, today
from turnout.dashboard.web import Refused, Visit, action, dashboard_of, page, redirect


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


def _budget(campaign: dict[str, Any]) -> dict[str, Any] | None:
    budget = campaign.get("budget")
    if budget is None:
        return None
    if isinstance(budget, str):
        return {"amount": budget, "period": "total",
                "thresholds": [{"at": 90, "action": "notify"}, {"at": 100, "action": "pause"}]}
    return budget


async def _reading(visit: Visit, kind: str, owner: str, period: str) -> meters.Reading:
    dashboard = dashboard_of(visit.request)
    return await meters.Meters(dashboard.redis, dashboard.graph_prefix).read(
        meters.meter_key(dashboard.graph_prefix, kind, owner, period))


@page
async def status(visit: Visit) -> Response:
    """Budgets and caps against today's (and all-time) counted figures from the report API,
    with the edges' lease ledgers (config/meters.py) and the governor's verdicts."""
    campaigns = (await visit.get("/api/v1/campaigns", {"limit": "1000", "sort": "name"}))
    offers = (await visit.get("/api/v1/offers", {"limit": "1000", "sort": "name"}))["items"]
    day = await today(visit, "campaign", ("clicks", "conversions", "cost"))
    ever = await visit.get("/api/v1/report", {"group_by": "campaign", "from": "all",
                                              "metrics": "cost", "limit": "1000"})
    offer_day = await today(visit, "offer", ("clicks", "conversions"), day["timezone"])
    dashboard = dashboard_of(visit.request)
    verdicts = await overlay.read(dashboard.redis, dashboard.graph_prefix)
    date = day["date"]
    rows = []
    for campaign in campaigns["items"]:
        full = await visit.get(f"/api/v1/campaigns/{campaign['id']}")
        budget = _budget(full)
        if budget is None and not full.get("daily_click_cap") and \
                not full.get("daily_conversion_cap"):
            continue
        figures = by(day, "campaign").get(campaign["id"], {})
        period = meters.TOTAL if (budget or {}).get("period", "total") == "total" else date
        spent = (by(ever, "campaign").get(campaign["id"], {}).get("cost") if period == "total"
                 else figures.get("cost"))
        rows.append({
            "campaign": full, "budget": budget, "spent": spent or "0",
            "used": _used(spent, budget["amount"]) if budget else None,
            "lease": await _reading(visit, "budget", campaign["id"], period) if budget else None,
            "clicks": figures.get("clicks", 0), "conversions": figures.get("conversions", 0),
            "click_lease": (await _reading(visit, "campaign_clicks", campaign["id"], date)
                            if full.get("daily_click_cap") else None),
            "blocked": verdicts.blocked_campaigns.get(campaign["id"]),
        })
    capped = []
    for offer in offers:
        if not offer.get("daily_cap") and not offer.get("daily_click_cap"):
            continue
        figures = by(offer_day, "offer").get(offer["id"], {})
        capped.append({"offer": offer, "clicks": figures.get("clicks", 0),
                       "conversions": figures.get("conversions", 0),
                       "click_lease": (await _reading(visit, "offer_clicks", offer["id"], date)
                                       if offer.get("daily_click_cap") else None),
                       "capped": verdicts.capped_offers.get(offer["id"])})
    return await visit.render("status.html", rows=rows, offers=capped, date=date,
                              timezone=day["timezone"], currency=day["currency"])


def _used(spent: Any, amount: Any) -> Decimal | None:
    """Percent of the budget spent, one place."""
    try:
        total, used = Decimal(str(amount)), Decimal(str(spent or 0))
    except InvalidOperation:
        return None
    return None if total <= 0 else (used * 100 / total).quantize(Decimal("0.1"))


ROUTES = [
    Route("/versions", versions, methods=["GET"]),
    Route("/versions/diff", diff, methods=["GET"]),
    Route("/versions/{n:int}/rollback", rollback, methods=["POST"]),
    Route("/audit", audit, methods=["GET"]),
    Route("/status", status, methods=["GET"]),
]
