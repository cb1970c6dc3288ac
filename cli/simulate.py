"""`turnout simulate`: synthetic traffic and postbacks against a running edge, then the
ground truth the reports must show (per workspace x campaign x country x device)."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from turnout.config import examples

if TYPE_CHECKING:
    from turnout.config.fx_rates import RateSet

DEFAULT_EDGE = "http://127.0.0.1:8080"


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "simulate", help="send synthetic clicks and postbacks, print the ground truth",
        description="Drive a running edge with synthetic visitors (countries, devices, bots, "
        "repeat visitors, sub-ids, cost tokens) and postbacks (duplicates, status changes, "
        "bad requests), then print what the reports must show for them. The edge must "
        "trust this host as a proxy (TURNOUT_EDGE_TRUSTED_PROXIES, loopback by default): "
        "visitor addresses go in X-Forwarded-For.",
    )
    parser.add_argument("--edge", default=DEFAULT_EDGE, help=f"edge base URL ({DEFAULT_EDGE})")
    parser.add_argument("--graph", type=Path,
                        help="graph file; default: the version published in Redis")
    parser.add_argument("--clicks", type=int, default=1000, help="campaign clicks (1000)")
    parser.add_argument("--postbacks", type=int, default=100,
                        help="postback requests, about (100)")
    parser.add_argument("--rate", type=float, default=0.0,
                        help="requests per second at most; 0 = as fast as it goes")
    parser.add_argument("--concurrency", type=int, default=32, help="requests in flight (32)")
    parser.add_argument("--seed", type=int, default=1, help="same seed, same traffic (1)")
    parser.add_argument("--json", type=Path, metavar="FILE",
                        help="write the ground truth and request statistics as JSON")
    parser.add_argument("--fx-rates", type=Path, default=examples.FX_RATES, metavar="FILE",
                        help="the exchange rates CSV `turnout dev --fx-rates` imported: the "
                        "truth converts payouts in another currency at its latest day's "
                        "rates, on every day around today as turnout dev imports them "
                        "(default: the EXAMPLE rates turnout dev imports); '' converts "
                        "nothing (such conversions are held, as reports hold them without "
                        "rates)")
    parser.set_defaults(func=run)


def rates_of(path: Path) -> RateSet | None:
    """The rates `turnout dev` imports from `path` (None for ''), as the truth uses them."""
    if not str(path):
        return None
    from turnout.config.fx_rates import parse_csv
    from turnout.local.dev_setup import around_today

    today = dt.datetime.now(dt.UTC).date()
    return parse_csv(around_today(path.read_text("utf-8"), today))


async def _published() -> tuple[int, Any]:
    from redis.asyncio import Redis

    from turnout import env
    from turnout.config.store import GraphStore
    from turnout.connections import Connections

    redis = Redis.from_url(Connections.from_env().redis_url)
    try:
        store = GraphStore(redis, env.text("graph_prefix", "turnout:graph"))
        current = await store.load_current()
    finally:
        await redis.aclose()
    if current is None:
        from turnout.config.errors import ConfigError

        raise ConfigError("no graph published; pass --graph FILE")
    return current


def _table(rows: list[dict[str, Any]]) -> str:
    names = ["campaign", "country", "device", "clicks", "unique_clicks", "bot_clicks",
             "lp_clicks", "conversions", "revenue", "cost", "profit", "roi"]
    body = [["-" if row[n] is None else str(row[n]) for n in names] for row in rows]
    widths = [max([len(n)] + [len(r[i]) for r in body]) for i, n in enumerate(names)]
    lines = ["  ".join(n.ljust(w) if i < 3 else n.rjust(w)
                       for i, (n, w) in enumerate(zip(names, widths, strict=True)))]
    for cells in body:
        lines.append("  ".join(c.ljust(w) if i < 3 else c.rjust(w)
                               for i, (c, w) in enumerate(zip(cells, widths, strict=True))))
    return "\n".join(lines) + "\n"


def run(args: argparse.Namespace) -> int:
    import asyncio

    import orjson
    import uvloop

    from turnout.config.compile import compile_graph
    from turnout.config.io import load_graph
    from turnout.simulate.driver import simulate

    if args.graph is not None:
        version, graph = 0, load_graph(args.graph)
    else:
        version, graph = asyncio.run(_published())
    compiled = compile_graph(graph, version)
    rates = rates_of(args.fx_rates)
    # uvloop: the client side of a load test should cost as little as it can.
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        result = runner.run(simulate(args.edge, compiled, clicks=args.clicks,
                                     postbacks=args.postbacks, seed=args.seed,
                                     concurrency=args.concurrency, rate=args.rate,
                                     rates=rates))
    summary = result.summary()
    if args.json is not None:
        args.json.write_bytes(orjson.dumps(summary, option=orjson.OPT_INDENT_2))
    sys.stdout.write(_table(summary["rows"]))
    requests = ", ".join(f"{k} {v}" for k, v in summary["requests"].items())
    print(f"\nsent: {requests}; took {summary['seconds']}")
    print(f"ingest should hold: {orjson.dumps(summary['expected_ingest']).decode()}")
    if result.outcome.anomalies:
        print(f"\n{len(result.outcome.anomalies)} unexpected answer(s):", file=sys.stderr)
        for line in result.outcome.anomalies[:50]:
            print(f"  {line}", file=sys.stderr)
        return 1
    return 0
