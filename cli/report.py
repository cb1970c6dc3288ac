"""`turnout report`, `turnout api` and `turnout api-key` (deprecated: `turnout key`).

`turnout report` reads ClickHouse directly (TURNOUT_CLICKHOUSE_DSN), or asks a running
report API when given `--api URL --key TOKEN` (the default when TURNOUT_API_URL is set).
chdb lets one process hold a data path, so while `turnout dev` or `turnout ingest` runs
on chdb, reports go through the API.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

FORMATS = ("table", "csv", "json")


@dataclass(frozen=True, slots=True)
class ApiClientSettings:
    """Where `turnout report` finds a running report API (instead of reading ClickHouse)."""

    url: str | None = None
    """Base URL of a running `turnout api` (`http://127.0.0.1:8081`): `turnout report` asks
    it instead of reading ClickHouse (`--direct` reads ClickHouse anyway); `turnout key`
    and the other control-plane verbs talk to it.

    Default: unset (read ClickHouse)"""
    key: str | None = None
    """The API key `turnout report` and `turnout key|campaign|...` send to that API (made
    by `turnout key create`).

    Default: unset"""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ApiClientSettings:
        environ = os.environ if environ is None else environ
        return cls(url=environ.get("TURNOUT_API_URL") or None,
                   key=environ.get("TURNOUT_API_KEY") or None)


def register(subparsers: Any) -> None:
    client = ApiClientSettings.from_env()
    report = subparsers.add_parser(
        "report", help="print a report (clicks, revenue, ROI...)", dash_values=("--sort",),
        description="Print a report from ClickHouse, or from a running report API "
        "(--api, or TURNOUT_API_URL). Exit code 3: a bad parameter; 4: ClickHouse or the "
        "API could not be reached.",
    )
    report.add_argument("--workspace", required=True, help="the workspace to report on")
    report.add_argument("--group-by", default="", help="e.g. campaign,country,date")
    report.add_argument("--metrics", default="", help="comma list (default: the main ones)")
    report.add_argument("--from", dest="start", help="YYYY-MM-DD[THH:MM] workspace time, or all")
    report.add_argument("--to", dest="end", help="YYYY-MM-DD (inclusive) or a time (exclusive)")
    report.add_argument("--tz", help="time zone (default: the workspace's)")
    report.add_argument("--currency",
                        help="the workspace currency, when the graph in Redis cannot say "
                        "(direct reads only; the API knows it)")
    report.add_argument("--filter", action="append", default=[], metavar="DIM=V1,V2",
                        help="keep rows whose DIM is one of the values (repeatable)")
    report.add_argument("--statuses", default="", help="statuses counted as conversions")
    report.add_argument("--sort", default="",
                        help="metrics or grouped dimensions, '-' for descending: -roi,country")
    report.add_argument("--limit", type=int, help="at most this many rows")
    report.add_argument("--offset", type=int, help="skip this many rows first")
    report.add_argument("--include-bots", action="store_true",
                        help="count bot clicks and their conversions too")
    report.add_argument("--rollup", choices=("none", "parent"), default="none",
                        help="parent: roll child campaigns up into their parent")
    report.add_argument("--format", choices=FORMATS, default="table",
                        help="output format (default table)")
    report.add_argument("--api", default=client.url,
                        help="report API base URL (default: TURNOUT_API_URL)")
    report.add_argument("--key", default=client.key,
                        help="API key for --api (default: TURNOUT_API_KEY)")
    report.add_argument("--direct", action="store_true",
                        help="read ClickHouse even when TURNOUT_API_URL is set")
    report.add_argument("--dsn", help="ClickHouse DSN (default: TURNOUT_CLICKHOUSE_DSN)")
    report.add_argument("--database", help="ClickHouse database (default: turnout)")
    report.add_argument("--sql", action="store_true",
                        help="print the SQL and its parameters instead of running it")
    report.add_argument("--postbacks", action="store_true",
                        help="postbacks to traffic sources by day and source: attempted, "
                        "delivered, failed, pending (uses --from, --to and --tz only)")
    report.add_argument("--not-counted", action="store_true",
                        help="list the conversions that count in no report, by reason "
                        "(uses --from, --to and --tz only)")
    report.add_argument("--held", action="store_true",
                        help="list the conversions held out of money (no exchange rate for "
                        "their currency and day), by day, currency and status (uses --from, "
                        "--to, --tz and --statuses only)")
    report.set_defaults(func=report_command)

    api = subparsers.add_parser(
        "api", help="serve the admin and report API, and the dashboard at /ui")
    api.add_argument("--host", help="default: TURNOUT_API_HOST or 127.0.0.1")
    api.add_argument("--port", type=int, help="default: TURNOUT_API_PORT or 8081")
    api.add_argument("--dsn", help="ClickHouse DSN (default: TURNOUT_CLICKHOUSE_DSN)")
    api.add_argument("--database", help="ClickHouse database (default: turnout)")
    api.set_defaults(func=api_command)

    key = subparsers.add_parser(
        "api-key", help="deprecated: make a report-only key (use `turnout key create`)")
    key.add_argument("--workspace", required=True, help="the workspace the key may read")
    key.set_defaults(func=api_key_command)


def _filters(items: list[str]) -> dict[str, list[str]]:
    from turnout.reports.errors import ParameterError

    filters: dict[str, list[str]] = {}
    for item in items:
        name, sep, values = item.partition("=")
        if not sep:
            raise ParameterError(f"--filter {item!r}: expected DIM=V1,V2")
        filters.setdefault(name.strip(), []).append(values)
    return filters


def _query_string(args: argparse.Namespace) -> list[tuple[str, str]]:
    pairs = [("workspace", args.workspace), ("group_by", args.group_by),
             ("metrics", args.metrics), ("from", args.start), ("to", args.end),
             ("tz", args.tz), ("statuses", args.statuses), ("sort", args.sort),
             ("limit", args.limit), ("offset", args.offset),
             ("include_bots", "true" if args.include_bots else None),
             ("rollup", None if args.rollup == "none" else args.rollup), ("format", "json")]
    out = [(k, str(v)) for k, v in pairs if v not in (None, "")]
    for name, values in _filters(args.filter).items():
        out.extend((f"f.{name}", v) for v in values)
    return out


def _from_api(args: argparse.Namespace) -> tuple[Any, dict[str, Any]]:
    """Ask a running report API; rebuild the typed result so every format renders alike."""
    import urllib.error
    import urllib.parse
    import urllib.request
    from decimal import Decimal

    import orjson

    from turnout.reports.errors import ParameterError, ReportError, StoreError
    from turnout.reports.metrics import METRICS
    from turnout.reports.query import Column
    from turnout.reports.run import ReportResult

    if not args.key:
        raise ParameterError("--api needs --key (or TURNOUT_API_KEY)")
    if args.not_counted or args.held or args.postbacks:
        path = ("/api/v1/not-counted?" if args.not_counted
                else "/api/v1/held?" if args.held else "/api/v1/postbacks?")
        kept = ("workspace", "from", "to", "tz", "format", *(("statuses",) if args.held else ()))
        pairs = [(k, v) for k, v in _query_string(args) if k in kept]
    else:
        path, pairs = "/api/v1/report?", _query_string(args)
    url = args.api.rstrip("/") + path + urllib.parse.urlencode(pairs)
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {args.key}"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            body = orjson.loads(response.read())
    except urllib.error.HTTPError as exc:
        try:
            answer = orjson.loads(exc.read() or b"{}")
            reason = answer.get("error") or answer.get("detail") or exc.reason
        except orjson.JSONDecodeError:  # a proxy's HTML page, say
            reason = exc.reason
        if exc.code == 400:
            raise ParameterError(reason) from None
        if exc.code < 500:  # a refused key or an unknown path: asking again will not help
            raise ReportError(f"{args.api}: HTTP {exc.code}: {reason}") from None
        raise StoreError(f"{args.api}: HTTP {exc.code}: {reason}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise StoreError(f"{args.api}: {exc}") from None
    columns = tuple(Column(c["name"], c["role"], c["kind"],
                           METRICS[c["name"]].places if c["name"] in METRICS
                           else 6 if c["kind"] == "money" else 0)
                    for c in body.pop("columns"))
    rows = [tuple(Decimal(v) if isinstance(v, str) and c.kind not in (None, "count") else v
                  for v, c in zip(row.values(), columns, strict=True))
            for row in body.pop("rows")]
    return ReportResult(columns, rows), body


def _timezone(args: argparse.Namespace, redis_url: str, prefix: str) -> tuple[str, str]:
    """The workspace's zone and currency: the flags, else the graph in Redis."""
    from turnout.reports.workspaces import load_facts

    # not-counted and postbacks convert nothing
    if args.tz and (args.currency or args.not_counted or args.postbacks):
        return args.tz, args.currency or ""
    try:
        facts = asyncio.run(load_facts(redis_url, prefix)).workspace(args.workspace)
    except Exception as exc:  # Redis is optional here: say so; the builder refuses money
        # it cannot convert without the currency.
        if not args.tz:
            print(f"turnout report: workspace time zone unknown ({exc}); using UTC, pass "
                  "--tz", file=sys.stderr)
        return args.tz or "UTC", args.currency or ""
    return args.tz or facts.timezone, args.currency or facts.currency


def _direct(args: argparse.Namespace) -> tuple[Any, dict[str, Any]]:
    import clickhouse_connect

    from turnout.api.settings import ApiSettings
    from turnout.reports.errors import StoreError
    from turnout.reports.query import build_query
    from turnout.reports.run import execute
    from turnout.reports.spec import build_spec

    settings = ApiSettings.from_env()
    tz, currency = _timezone(args, settings.redis_url, settings.graph_prefix)
    spec = build_spec(workspace=args.workspace, group_by=args.group_by, metrics=args.metrics,
                      filters=_filters(args.filter), start=args.start, end=args.end, tz=tz,
                      currency=currency, statuses=args.statuses, sort=args.sort, limit=args.limit,
                      offset=args.offset, include_bots=args.include_bots,
                      rollup=args.rollup == "parent")
    from turnout.reports import held, not_counted, postbacks

    if args.not_counted:
        query = not_counted.build_query(spec)
    elif args.held:
        query = held.build_query(spec)
    elif args.postbacks:
        query = postbacks.build_query(spec)
    else:
        query = build_query(spec)
    meta: dict[str, Any] = {"workspace": spec.workspace, "timezone": spec.tz,
                            "currency": currency,
                            "from": spec.start.isoformat() if spec.start else None,
                            "to": spec.end.isoformat() if spec.end else None}
    if args.sql:
        return None, {"sql": query.sql, "parameters": query.parameters}
    dsn = args.dsn or settings.clickhouse_dsn
    try:
        client = clickhouse_connect.get_client(dsn=dsn,
                                               database=args.database or settings.database)
    except Exception as exc:
        hint = (" (chdb allows one process per data path: while turnout dev/ingest runs, use"
                " --api URL --key TOKEN or TURNOUT_API_URL)" if dsn.startswith("chdb") else "")
        raise StoreError(f"cannot open {dsn}: {exc}{hint}") from exc
    counting = (None if args.not_counted or args.held or args.postbacks
                else held.count_spec(spec))
    if counting is not None:
        meta["held_conversions"] = held.held_total(execute(client, build_query(counting)))
    return execute(client, query), meta


def report_command(args: argparse.Namespace) -> int:
    import orjson

    from turnout.reports import format as fmt
    from turnout.reports.errors import ReportError

    try:
        if args.api and not args.direct and not args.sql:
            result, meta = _from_api(args)
        else:
            result, meta = _direct(args)
    except ReportError as exc:
        print(f"turnout report: {exc}", file=sys.stderr)
        return exc.exit_code
    if result is None:
        print(meta["sql"])
        print(orjson.dumps(meta["parameters"], default=str, option=orjson.OPT_INDENT_2).decode())
        return 0
    held = meta.get("held_conversions")
    if held and args.format != "json":  # JSON says it in its meta
        print(f"turnout report: {held} conversion(s) held out of the money columns (no "
              f"exchange rate for their currency and day): see --held", file=sys.stderr)
    if args.format == "json":
        sys.stdout.write(fmt.to_json(result, meta).decode() + "\n")
    elif args.format == "csv":
        sys.stdout.write(fmt.to_csv(result))
    else:
        sys.stdout.write(fmt.to_table(result))
    return 0


def api_command(args: argparse.Namespace) -> int:
    import dataclasses
    import logging

    from turnout.api.server import client_factory, serve
    from turnout.api.settings import ApiSettings

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    settings = ApiSettings.from_env()
    changes = {k: v for k, v in (("host", args.host), ("port", args.port),
                                 ("clickhouse_dsn", args.dsn), ("database", args.database))
               if v}
    settings = dataclasses.replace(settings, **changes)
    asyncio.run(serve(settings, client_factory(settings), handle_signals=True,
                      wrap=dashboard_wrap()))
    return 0


def dashboard_wrap() -> Any:
    """The API app served with the dashboard at /ui (`turnout api`, `turnout ingest --api`)."""
    from turnout.dashboard.app import with_dashboard
    from turnout.dashboard.settings import DashboardSettings

    settings = DashboardSettings.from_env()
    return lambda app: with_dashboard(app, settings)


def api_key_command(args: argparse.Namespace) -> int:
    from turnout.api.keys import key_line, new_token

    token = new_token()
    print(f"token (give to the API user; it is not stored): {token}")
    print(f"TURNOUT_API_KEYS line (hash only): {key_line(args.workspace, token)}")
    return 0
