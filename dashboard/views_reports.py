"""Reports (group-by, filters, date range, timezone, sort, CSV), the timeline chart, the
leaderboard and the A/B view: every number is the report API's answer, shown as it is."""

from __future__ import annotations

import datetime as dt
from typing import Any, Final

from starlette.responses import Response
from starlette.routing import Route

from turnout.config.model import DEFAULT_RULE_ID
from turnout.dashboard.web import Visit, page
from turnout.reports.dimensions import DIMENSIONS
from turnout.reports.metrics import METRICS

# The report API's parameters the report page passes on as they are (the API checks them).
PASSED: Final = frozenset({"group_by", "metrics", "from", "to", "tz", "sort", "limit",
                           "statuses", "include_bots", "rollup"})
TIMELINE: Final = ("clicks", "conversions", "revenue", "cost", "profit")
FILTER_ROWS: Final = 2
HOURLY_DAYS: Final = 3


def _report_params(query: Any) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(what goes to /api/v1/report, the filter rows as (dimension, value))."""
    params: list[tuple[str, str]] = []
    filters: list[tuple[str, str]] = []
    pairs = list(query.multi_items())
    for name, value in pairs:
        if not value:
            continue
        if name in PASSED:
            params.append((name, value))
        elif name.startswith("f.") and name[2:] in DIMENSIONS:
            params.append((name, value))
            filters.append((name[2:], value))
    # Filter rows from the form: fd.N (dimension) and fv.N (value).
    chosen = dict(pairs)
    for i in range(FILTER_ROWS):
        dimension, value = chosen.get(f"fd{i}", ""), chosen.get(f"fv{i}", "")
        if dimension in DIMENSIONS and value:
            params.append((f"f.{dimension}", value))
            filters.append((dimension, value))
    return params, filters


async def _timeline(visit: Visit, params: list[tuple[str, str]]) -> dict[str, Any] | None:
    """The timeline of the report's range and filters (None when the API refuses it)."""
    shared = [(k, v) for k, v in params if k in ("from", "to", "tz", "statuses",
                                                 "include_bots") or k.startswith("f.")]
    if not any(k == "from" for k, _ in shared):
        return None
    bucket = _bucket(dict(shared).get("from", ""), dict(shared).get("to", ""))
    answer = await visit.api("GET", "/api/v1/timeline",
                             params=[*shared, ("metrics", ",".join(TIMELINE)),
                                     ("bucket", bucket)])
    return answer.body if answer.ok else None


def _bucket(start: str, end: str, today: dt.date | None = None) -> str:
    """Hours for a range of up to HOURLY_DAYS days (a day of dates is one point), else
    days; a range the API will refuse is its to name."""
    try:
        first = dt.date.fromisoformat(start[:10])
        last = dt.date.fromisoformat(end[:10]) if end else (today or dt.date.today())
    except ValueError:
        return "date"
    return "hour" if (last - first).days < HOURLY_DAYS else "date"


@page
async def reports(visit: Visit) -> Response:
    params, filters = _report_params(visit.request.query_params)
    chosen = dict(params)
    if "group_by" not in chosen:
        params.append(("group_by", "campaign"))
    if "from" not in chosen:
        params.append(("from", _default_from(visit)))
    answer = await visit.api("GET", "/api/v1/report", params=[*params, ("totals", "true")])
    report = answer.body if answer.ok else None
    timeline = await _timeline(visit, params) if report else None
    csv_query = [(k, v) for k, v in params] + [("format", "csv")]
    return await visit.render(
        "reports.html", status=200 if answer.ok else answer.status, report=report,
        groups=[g for k, v in params if k == "group_by" for g in v.split(",") if g],
        error="" if answer.ok else answer.detail, params=dict(params), filters=filters,
        filter_rows=FILTER_ROWS, dimensions=sorted(DIMENSIONS), metrics=list(METRICS),
        timeline=timeline, csv_query=csv_query)


def _default_from(visit: Visit) -> str:
    """The last 7 days' start; the report API reads the date in the workspace timezone."""
    return (dt.datetime.now(dt.UTC).date() - dt.timedelta(days=6)).isoformat()


@page
async def report_csv(visit: Visit) -> Response:
    params, _ = _report_params(visit.request.query_params)
    answer = await visit.api("GET", "/api/v1/report", params=[*params, ("format", "csv")])
    if not answer.ok:
        return await visit.render("error.html", status=answer.status, message=answer.detail)
    return Response(answer.content, media_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": 'attachment; filename="turnout-report.csv"',
        "Cache-Control": "no-store"})


@page
async def leaderboard(visit: Visit) -> Response:
    query = visit.request.query_params
    dimension = query.get("dimension") or "campaign"
    metric = query.get("metric") or "profit"
    params = [("dimension", dimension), ("metric", metric),
              ("metrics", "clicks,conversions,revenue,cost,profit,roi"),
              ("from", query.get("from") or _default_from(visit)), ("limit", "20")]
    if query.get("to"):
        params.append(("to", query["to"]))
    answer = await visit.api("GET", "/api/v1/leaderboard", params=params)
    return await visit.render(
        "leaderboard.html", status=200 if answer.ok else answer.status,
        board=answer.body if answer.ok else None, error="" if answer.ok else answer.detail,
        params=dict(params), dimensions=sorted(DIMENSIONS), metrics=list(METRICS))


def _scale(arms: list[dict[str, Any]]) -> float:
    """The widest CI bound (percentage points) of the variants, for the bars' common axis."""
    widest = max((abs(a.get(k) or 0) for a in arms for k in ("ci_low", "ci_high")),
                 default=0.0)
    return max(widest, 1.0)


@page
async def ab(visit: Visit) -> Response:
    query = visit.request.query_params
    campaigns = (await visit.get("/api/v1/campaigns", {"limit": "1000", "sort": "name"}))
    campaign_id, rule_id = query.get("campaign", ""), query.get("rule", "")
    rules: list[dict[str, Any]] = []
    comparison, error = None, ""
    if campaign_id:
        campaign = await visit.get(f"/api/v1/campaigns/{campaign_id}")
        rules = [{"id": r["id"], "name": r.get("name") or r["id"]} for r in campaign["rules"]]
        rules.append({"id": DEFAULT_RULE_ID, "name": "default path"})
        rule_id = rule_id or rules[0]["id"]
        since = query.get("from") or "all"
        clicked = await visit.api("GET", "/api/v1/report", params=[
            ("group_by", "destination"), ("metrics", "clicks"), ("from", since),
            ("f.campaign", campaign_id), ("f.rule", rule_id), ("limit", "1")])
        if clicked.ok and not clicked.body["rows"]:
            comparison = {"arms": []}  # nothing to compare yet: the empty state
        else:
            answer = await visit.api("GET", "/api/v1/ab", params=[
                ("campaign", campaign_id), ("rule", rule_id), ("from", since)])
            comparison = answer.body if answer.ok else None
            error = "" if answer.ok else answer.detail
    return await visit.render("ab.html", campaigns=campaigns["items"], rules=rules,
                              campaign_id=campaign_id, rule_id=rule_id,
                              comparison=comparison, error=error,
                              scale=_scale(comparison["arms"]) if comparison else 1.0,
                              since=query.get("from") or "all")


ROUTES = [
    Route("/reports", reports, methods=["GET"]),
    Route("/reports.csv", report_csv, methods=["GET"]),
    Route("/leaderboard", leaderboard, methods=["GET"]),
    Route("/ab", ab, methods=["GET"]),
]
