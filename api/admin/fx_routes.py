"""PUT|GET /api/v1/fx/rates: the exchange rates reports convert payouts with.

Rates are market data shared by every workspace (one ClickHouse table, reports/fx_store.py),
so replacing them is not a workspace's business: only an owner key of a workspace named in
TURNOUT_FX_WRITERS may PUT (403 otherwise); any key may read them. The body of a PUT is the
CSV `turnout fx import` reads (`date,currency,rate`, `Content-Type: text/csv`), parsed by
the same code (config/fx_rates.py): every bad line is a 422 error at `line N.field`, and
nothing is imported when any line is bad.
"""

from __future__ import annotations

import datetime as dt
from typing import Final

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from turnout.api.admin.bodies import json_response, read_bytes
from turnout.api.admin.principal import principal_of
from turnout.api.admin.routes import AdminRoute
from turnout.api.problems import Problem
from turnout.config.errors import Problem as FieldProblem
from turnout.config.fx_rates import DEFAULT_BASE, RatesInvalid, parse_csv
from turnout.reports import fx_store
from turnout.reports.errors import StoreError

_CSV: Final = "text/csv"
_CURRENCY_LIST_MAX: Final = 200


class ImportAnswer(msgspec.Struct, kw_only=True):
    base: str
    days: int
    rates: int
    version: int
    first: dt.date
    last: dt.date


class RateItem(msgspec.Struct, kw_only=True):
    date: dt.date
    currency: str
    base: str
    rate: str
    """Units of `currency` per 1 `base`, as an exact decimal string."""


class RateList(msgspec.Struct, kw_only=True):
    items: list[RateItem]


def _store_problem(exc: StoreError) -> Problem:
    return Problem(503, detail="the rate store (ClickHouse) is unavailable",
                   headers={"Retry-After": "1"})


async def put_rates(request: Request) -> Response:
    principal = principal_of(request)
    if principal.workspace_id not in request.app.state.api.settings.fx_writers:
        raise Problem(403, detail="exchange rates are shared by every workspace: only owner "
                                  "keys of the workspaces in TURNOUT_FX_WRITERS may replace "
                                  "them")
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != _CSV:
        raise Problem(415, detail=f"send the rates as {_CSV} (date,currency,rate)")
    unknown = sorted(set(request.query_params) - {"base"})
    if unknown:
        raise Problem(400, detail=f"unknown parameter(s): {', '.join(unknown)}")
    raw = await read_bytes(request)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise Problem(400, detail="the body is not UTF-8 text") from None
    base = request.query_params.get("base", DEFAULT_BASE).strip().upper()
    try:
        rates = parse_csv(text, base)
    except RatesInvalid as exc:
        raise Problem.invalid(exc.problems, "the rates are not valid; nothing was "
                                            "imported") from None
    try:
        done = await request.app.state.api.with_client(
            lambda client: fx_store.import_rates(client, rates, principal.key_id))
    except StoreError as exc:
        raise _store_problem(exc) from None
    return json_response(ImportAnswer(base=done.base, days=done.days, rates=done.rates,
                                      version=done.version, first=done.first, last=done.last))


def _day(request: Request, name: str, problems: list[FieldProblem]) -> dt.date | None:
    text = request.query_params.get(name)
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        problems.append(FieldProblem(name, f"must be an ISO date YYYY-MM-DD, got {text!r}"))
        return None


async def get_rates(request: Request) -> Response:
    params = request.query_params
    unknown = sorted(set(params) - {"from", "to", "currency"})
    if unknown:
        raise Problem(400, detail=f"unknown parameter(s): {', '.join(unknown)}")
    problems: list[FieldProblem] = []
    start, end = _day(request, "from", problems), _day(request, "to", problems)
    currencies = tuple(c.strip().upper() for c in params.get("currency", "").split(",")
                       if c.strip())
    if len(currencies) > _CURRENCY_LIST_MAX:
        problems.append(FieldProblem("currency", f"at most {_CURRENCY_LIST_MAX} currencies"))
    if problems:
        raise Problem(400, detail="bad parameters",
                      errors=[(p.path, p.message) for p in problems])
    try:
        stored = await request.app.state.api.with_client(
            lambda client: fx_store.list_rates(client, start, end, currencies))
    except StoreError as exc:
        raise _store_problem(exc) from None
    return json_response(RateList(items=[
        RateItem(date=r.day, currency=r.currency, base=r.base, rate=f"{r.rate.normalize():f}")
        for r in stored]))


ROUTES: list[AdminRoute] = [
    AdminRoute("PUT", "/api/v1/fx/rates", put_rates, "owner",
               "Import exchange rates (CSV date,currency,rate; ?base=EUR): each day given "
               "replaces that day's rates", response=ImportAnswer),
    AdminRoute("GET", "/api/v1/fx/rates", get_rates, "viewer",
               "Exchange rates in force per day (?from=&to=&currency=)", response=RateList),
]
