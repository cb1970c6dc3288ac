"""`turnout fx import FILE` and `turnout fx list`: the exchange rates reports convert with.

FILE is a CSV with the header `date,currency,rate`: `rate` is how many units of `currency`
one unit of the base buys (`--base`, default EUR: `2024-03-01,USD,1.0825` = 1 EUR buys
1.0825 USD), one rate per UTC day and currency. Every bad line is reported with its line
number and nothing is imported when any line is bad; each day in the file replaces that
day's earlier import as a whole.

Rates go straight to ClickHouse (TURNOUT_CLICKHOUSE_DSN), or through a running API with
`--api URL --key TOKEN` (the default when TURNOUT_API_URL is set; the key must be an owner
key of a workspace in the API's TURNOUT_FX_WRITERS). With the embedded chdb only one
process may open a data path: while `turnout dev` runs, go through its API.
"""

from __future__ import annotations

import argparse
import sys
import urllib.parse
from pathlib import Path
from typing import Any

from turnout.cli.report import ApiClientSettings
from turnout.errors import EXIT_BAD_INPUT


def register(subparsers: Any) -> None:
    client = ApiClientSettings.from_env()
    fx = subparsers.add_parser("fx", help="import or list exchange rates", description=__doc__,
                               formatter_class=argparse.RawDescriptionHelpFormatter)
    verbs = fx.add_subparsers(dest="verb", metavar="VERB", required=True)

    def doors(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--api", default=client.url,
                            help="API base URL (default: TURNOUT_API_URL)")
        parser.add_argument("--key", default=client.key,
                            help="API key for --api (default: TURNOUT_API_KEY)")
        parser.add_argument("--direct", action="store_true",
                            help="write ClickHouse even when TURNOUT_API_URL is set")
        parser.add_argument("--dsn", help="ClickHouse DSN (default: TURNOUT_CLICKHOUSE_DSN)")
        parser.add_argument("--database", help="ClickHouse database (default: turnout)")

    load = verbs.add_parser("import", help="import a CSV of daily rates (date,currency,rate)")
    load.add_argument("file", type=Path, help="the CSV file ('-' for stdin)")
    load.add_argument("--base", default="EUR",
                      help="the currency the rates are quoted against (default EUR)")
    doors(load)
    load.set_defaults(func=import_command)

    listing = verbs.add_parser("list", help="print the rates in force per day")
    listing.add_argument("--from", dest="start", help="first day YYYY-MM-DD")
    listing.add_argument("--to", dest="end", help="last day YYYY-MM-DD (inclusive)")
    listing.add_argument("--currency", default="", help="comma list of currencies")
    doors(listing)
    listing.set_defaults(func=list_command)


def _client(args: argparse.Namespace) -> Any:
    import clickhouse_connect

    from turnout.api.settings import ApiSettings
    from turnout.reports.errors import StoreError

    settings = ApiSettings.from_env()
    dsn = args.dsn or settings.clickhouse_dsn
    try:
        return clickhouse_connect.get_client(dsn=dsn, database=args.database or settings.database)
    except Exception as exc:
        hint = (" (chdb allows one process per data path: while turnout dev runs, use --api "
                "URL --key TOKEN or TURNOUT_API_URL)" if dsn.startswith("chdb") else "")
        raise StoreError(f"cannot open {dsn}: {exc}{hint}") from exc


def _through_api(args: argparse.Namespace) -> bool:
    return bool(args.api) and not args.direct


def _api(args: argparse.Namespace) -> Any:
    from turnout.cli.api_client import ApiClient

    return ApiClient.from_args(args.api, args.key)


def import_command(args: argparse.Namespace) -> int:
    from turnout.config.fx_rates import RatesInvalid, parse_csv

    try:
        text = sys.stdin.read() if str(args.file) == "-" else args.file.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        print(f"turnout fx import: cannot read {args.file}: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    base = args.base.strip().upper()
    try:
        rates = parse_csv(text, base)
    except RatesInvalid as exc:
        print(f"turnout fx import: {args.file}: {len(exc.problems)} problem(s), nothing "
              "imported:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return exc.exit_code
    if _through_api(args):
        import orjson

        answer = orjson.loads(_api(args).send(
            "PUT", "/api/v1/fx/rates?" + urllib.parse.urlencode({"base": base}),
            text.encode(), "text/csv"))
        days, count, first, last = (answer["days"], answer["rates"], answer["first"],
                                    answer["last"])
    else:
        from turnout.reports.fx_store import import_rates

        done = import_rates(_client(args), rates, "cli")
        days, count, first, last = done.days, done.rates, done.first, done.last
    print(f"imported {count} rate(s) against {base} for {days} day(s), {first} .. {last}")
    return 0


def list_command(args: argparse.Namespace) -> int:
    import datetime as dt

    if _through_api(args):
        import orjson

        query = {k: v for k, v in (("from", args.start), ("to", args.end),
                                   ("currency", args.currency)) if v}
        answer = orjson.loads(_api(args).send("GET", "/api/v1/fx/rates?"
                                              + urllib.parse.urlencode(query)))
        rows = [(r["date"], r["currency"], r["base"], r["rate"]) for r in answer["items"]]
    else:
        from turnout.reports.errors import ParameterError
        from turnout.reports.fx_store import list_rates

        try:
            start = dt.date.fromisoformat(args.start) if args.start else None
            end = dt.date.fromisoformat(args.end) if args.end else None
        except ValueError as exc:
            raise ParameterError(f"--from/--to: expected YYYY-MM-DD ({exc})") from None
        currencies = tuple(c.strip().upper() for c in args.currency.split(",") if c.strip())
        rows = [(r.day.isoformat(), r.currency, r.base, f"{r.rate.normalize():f}")
                for r in list_rates(_client(args), start, end, currencies)]
    print("date,currency,base,rate")
    for row in rows:
        print(",".join(row))
    return 0
