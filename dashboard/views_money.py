"""Money: the exchange rates reports convert payouts with (the latest days of
/api/v1/fx/rates, and an import form for the keys the API lets replace them: PUT text/csv),
the conversions held for want of a rate (/api/v1/held), and the delivery rate of postbacks
to each traffic source (/api/v1/postbacks)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Final

from starlette.datastructures import FormData
from starlette.responses import Response
from starlette.routing import Route

from turnout.dashboard.web import Visit, action, page, redirect

RATE_DAYS: Final = 14  # the days of rates shown
IMPORT_ROLE: Final = "owner"


def _since(days: int) -> str:
    return (dt.datetime.now(dt.UTC).date() - dt.timedelta(days=days - 1)).isoformat()


def may_import(visit: Visit) -> bool:
    """Only owner keys of the workspaces in TURNOUT_FX_WRITERS may import (the API's rule,
    api/admin/fx_routes.py): the form is shown to those keys only."""
    return visit.can(IMPORT_ROLE) and visit.session.workspace in visit.dashboard.fx_writers


def by_day(items: list[dict[str, Any]]) -> list[tuple[str, list[dict[str, Any]]]]:
    """The rates, newest day first, each day's by currency."""
    days: dict[str, list[dict[str, Any]]] = {}
    for item in items:
        days.setdefault(str(item["date"]), []).append(item)
    return [(day, sorted(days[day], key=lambda r: r["currency"]))
            for day in sorted(days, reverse=True)]


async def _money(visit: Visit, *, status: int = 200, csv_text: str = "", base: str = "",
                 problems: dict[str, str] | None = None, message: str = "") -> Response:
    query = visit.request.query_params
    since = query.get("from") or _since(RATE_DAYS)
    rates = await visit.get("/api/v1/fx/rates", {"from": since})
    held = await visit.get("/api/v1/held", {"from": "all"})
    postbacks = await visit.get("/api/v1/postbacks", {"from": since})
    return await visit.render(
        "money.html", status=status, days=by_day(rates["items"]), since=since, held=held,
        postbacks=postbacks, may_import=may_import(visit), csv_text=csv_text, base=base,
        problems=problems or {}, message=message)


@page
async def money(visit: Visit) -> Response:
    return await _money(visit)


@action(IMPORT_ROLE)
async def import_rates(visit: Visit, form: FormData) -> Response:
    text = str(form.get("csv") or "")
    base = str(form.get("base") or "").strip()
    answer = await visit.api("PUT", "/api/v1/fx/rates", params={"base": base} if base else {},
                             raw=("text/csv", text.encode()))
    if not answer.ok:
        return await _money(visit, status=answer.status, csv_text=text, base=base,
                            problems=answer.problems(),
                            message=f"Nothing was imported: {answer.detail}")
    done = answer.body
    await visit.flash(f"Imported {done['rates']} rates over {done['days']} days "
                      f"({done['first']} to {done['last']}, base {done['base']}).")
    return redirect("/money")


ROUTES = [
    Route("/money", money, methods=["GET"]),
    Route("/money/fx", import_rates, methods=["POST"]),
]
