"""Budget, lease and cap status: each campaign's budget and caps against what the report
API counted, the edges' lease ledgers in Redis (config/meters.py) and the governor's
verdicts (config/overlay.py); spend is counted as the governor counts it."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from starlette.responses import Response
from starlette.routing import Route

from turnout.config import meters, overlay
from turnout.config.model import DEFAULT_THRESHOLDS
from turnout.dashboard.today import by, today
from turnout.dashboard.web import Visit, dashboard_of, page
from turnout.governor.spend import LEASED_COSTS


def _budget(campaign: dict[str, Any]) -> dict[str, Any] | None:
    budget = campaign.get("budget")
    if budget is None:
        return None
    defaults = [{"at": t.at, "action": t.action} for t in DEFAULT_THRESHOLDS]
    if isinstance(budget, str):
        return {"amount": budget, "period": "total", "thresholds": defaults}
    return {"period": "total", "thresholds": defaults, **budget}


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
    for campaign in campaigns["items"]:  # a list item has all but the rules and default path
        budget = _budget(campaign)
        if budget is None and not campaign.get("daily_click_cap") and \
                not campaign.get("daily_conversion_cap"):
            continue
        figures = by(day, "campaign").get(campaign["id"], {})
        period = meters.TOTAL if (budget or {}).get("period", "total") == "total" else date
        spent = Decimal(str((by(ever, "campaign").get(campaign["id"], {}).get("cost")
                             if period == meters.TOTAL else figures.get("cost")) or 0))
        lease = await _reading(visit, "budget", campaign["id"], period) if budget else None
        used = None
        if budget:
            # As the governor counts it (governor/spend.py): a leased cost model spends the
            # larger of the counted cost and what the edges reported, and an exhausted
            # ledger is the whole budget.
            leased = (campaign.get("cost_model") or {}).get("type", "cpc") in LEASED_COSTS
            if leased and lease is not None:
                spent = max(spent, Decimal(lease.spent).scaleb(-6))
            used = _used(spent, budget["amount"])
            if leased and lease is not None and lease.exhausted:
                used = Decimal(100)
        rows.append({
            "campaign": campaign, "budget": budget, "spent": spent, "used": used,
            "lease": lease,
            "clicks": figures.get("clicks", 0), "conversions": figures.get("conversions", 0),
            "click_lease": (await _reading(visit, "campaign_clicks", campaign["id"], date)
                            if campaign.get("daily_click_cap") else None),
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


def _used(spent: Decimal, amount: Any) -> Decimal | None:
    """Percent of the budget spent, one place."""
    try:
        total = Decimal(str(amount))
    except InvalidOperation:
        return None
    return None if total <= 0 else (spent * 100 / total).quantize(Decimal("0.1"))


ROUTES = [
    Route("/status", status, methods=["GET"]),
]
