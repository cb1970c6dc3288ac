"""Today's figures (in the workspace timezone) from the report API."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, Final
from zoneinfo import ZoneInfo

from turnout.dashboard.web import Refused, Visit

MONEY: Final = ("clicks", "conversions", "revenue", "cost", "profit", "roi")


def _date_in(timezone: str, now: dt.datetime | None = None) -> str:
    now = now or dt.datetime.now(dt.UTC)
    return now.astimezone(ZoneInfo(timezone)).date().isoformat()


async def today(visit: Visit, group_by: str, metrics: Sequence[str] = MONEY,
                timezone: str = "UTC") -> dict[str, Any]:
    """The report API's answer for today, grouped by `group_by`, with totals. The
    workspace timezone is the report's own: when `timezone` was not it, ask again."""
    for _ in range(2):
        date = _date_in(timezone)
        answer = await visit.api("GET", "/api/v1/report", params={
            "group_by": group_by, "metrics": ",".join(metrics), "from": date,
            "limit": "1000", "totals": "true"})
        if not answer.ok:
            raise Refused(answer.status, answer.detail)
        body: dict[str, Any] = answer.body
        if body.get("timezone") == timezone or _date_in(body["timezone"]) == date:
            body["date"] = date
            return body
        timezone = body["timezone"]
    raise Refused(503, "the workspace timezone changed while reading today's report")


def by(body: dict[str, Any], dimension: str) -> dict[str, dict[str, Any]]:
    return {str(row[dimension]): row for row in body.get("rows", ())}


def kinds(body: dict[str, Any]) -> dict[str, str]:
    return {c["name"]: c.get("kind") or "" for c in body.get("columns", ())}
