"""The control plane's graph <-> rows on PostgreSQL: import and read of a big graph.

    python -m benchmarks.control_graph [--campaigns 10000] [--rounds 3] [--postgres-url URL]
                                       [--json]

The graph is benchmarks/big_graph.py's (5 rules x 3 conditions x 4 destinations per
campaign: ~560,000 rows at 10,000 campaigns), generated before any timing. Without
--postgres-url an embedded PostgreSQL 18 is started in a temporary directory and pinned to
CPU 1, this process to CPU 0 (two noisy cores: each side gets its own). Each round uses a
fresh migrated database and times: the first import, read_graph, importing the same graph
again (nothing changed), importing it with 1 % of the campaigns changed, and single-entity
reads and upserts of a campaign (median of 20). The figures are medians over the rounds.
Baselines of the same run: msgspec decoding the graph's JSON in memory (the floor under
read_graph, which decodes the same JSON built by PostgreSQL) and config validation (what
every import costs before it reaches PostgreSQL).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import psycopg

from benchmarks.big_graph import generate
from turnout.config import model
from turnout.config.validate import validate
from turnout.control.graph_read import read_entity, read_graph
from turnout.control.graph_write import import_graph, upsert_entity
from turnout.control.migrate import migrate
from turnout.gc_pause import paused_gc

SINGLE = 20


@contextlib.contextmanager
def server(url: str | None) -> Iterator[str]:
    if url is not None:
        yield url
        return
    from turnout.local.services import postgres

    with tempfile.TemporaryDirectory() as tmp:
        service = postgres(Path(tmp))
        service.start()
        assert service.process is not None
        with contextlib.suppress(OSError):  # one core: nothing to split
            os.sched_setaffinity(service.process.pid, {1})
            os.sched_setaffinity(0, {0})
        try:
            yield f"postgresql://postgres@127.0.0.1:{service.port}/postgres"
        finally:
            service.stop()


def fresh_database(url: str, name: str) -> str:
    from psycopg.conninfo import make_conninfo

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    target = make_conninfo(url, dbname=name)
    migrate(target)
    return target


def changed(graph: model.Graph, share: float) -> tuple[model.Graph, int]:
    """`graph` with the first destination weight of every 1/share-th campaign changed."""
    step = max(1, round(1 / share))
    campaigns = list(graph.campaigns)
    touched = 0
    for i in range(0, len(campaigns), step):
        c = campaigns[i]
        first = msgspec.structs.replace(c.default[0], weight=c.default[0].weight + 1)
        campaigns[i] = msgspec.structs.replace(c, default=(first, *c.default[1:]))
        touched += 1
    return msgspec.structs.replace(graph, campaigns=tuple(campaigns)), touched


async def one_round(url: str, graph: model.Graph, edited: model.Graph) -> dict[str, float]:
    out: dict[str, float] = {}
    async with await psycopg.AsyncConnection.connect(url) as conn:
        start = time.perf_counter()
        await import_graph(conn, graph)
        await conn.commit()
        out["import_s"] = time.perf_counter() - start
        start = time.perf_counter()
        back = await read_graph(conn)
        out["read_graph_s"] = time.perf_counter() - start
        assert back == graph, "read_graph did not give the imported graph back"
        start = time.perf_counter()
        assert not await import_graph(conn, graph)
        await conn.commit()
        out["reimport_unchanged_s"] = time.perf_counter() - start
        start = time.perf_counter()
        await import_graph(conn, edited)
        await conn.commit()
        out["import_1pct_changed_s"] = time.perf_counter() - start
        campaign = edited.campaigns[len(edited.campaigns) // 2]
        reads, writes = [], []
        for i in range(SINGLE):
            start = time.perf_counter()
            await read_entity(conn, "campaigns", campaign.id)
            await conn.commit()
            reads.append(time.perf_counter() - start)
            first = msgspec.structs.replace(campaign.default[0], weight=100 + i)
            campaign = msgspec.structs.replace(campaign, default=(first, *campaign.default[1:]))
            start = time.perf_counter()
            await upsert_entity(conn, campaign)
            await conn.commit()
            writes.append(time.perf_counter() - start)
        out["read_entity_ms"] = statistics.median(reads) * 1000
        out["upsert_campaign_ms"] = statistics.median(writes) * 1000
    return out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--campaigns", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--postgres-url", help="a server to use (default: an embedded one)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)

    graph = generate(args.campaigns)
    edited, touched = changed(graph, 0.01)
    encoded = msgspec.json.encode(graph)
    baseline_decode, baseline_validate, rounds = [], [], []
    with server(args.postgres_url) as url:
        for i in range(args.rounds):
            start = time.perf_counter()
            with paused_gc():
                msgspec.json.decode(encoded, type=model.Graph)
            baseline_decode.append(time.perf_counter() - start)
            start = time.perf_counter()
            assert validate(graph) == []
            baseline_validate.append(time.perf_counter() - start)
            target = fresh_database(url, f"bench_control_{i}")
            rounds.append(asyncio.run(one_round(target, graph, edited)))
    figures = {key: statistics.median(r[key] for r in rounds) for key in rounds[0]}
    decode, check = statistics.median(baseline_decode), statistics.median(baseline_validate)
    summary: dict[str, Any] = {
        "benchmark": "control_graph",
        "campaigns": len(graph.campaigns),
        "changed_campaigns": touched,
        "rounds": args.rounds,
        **{key: round(value, 4) for key, value in figures.items()},
        "baseline_json_decode_s": round(decode, 4),
        "baseline_validate_s": round(check, 4),
        "read_graph_vs_json_decode": round(figures["read_graph_s"] / decode, 2),
        "import_vs_validate": round(figures["import_s"] / check, 2),
    }
    if args.json:
        print(json.dumps(summary))
    else:
        print(f"{summary['campaigns']:,} campaigns, medians of {args.rounds} rounds:")
        for key, value in summary.items():
            if key.endswith(("_s", "_ms")) or key.startswith(("read_graph_vs", "import_vs")):
                print(f"  {key:28s} {value}")
    return summary


if __name__ == "__main__":
    main()
    sys.exit(0)
