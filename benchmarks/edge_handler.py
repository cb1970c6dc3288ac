"""The /c/{code} handler in process: microseconds per click against a trivial ASGI app.

    python -m benchmarks.edge_handler [--requests N] [--repeat N] [--cpu N] [--json]
                                      [--profile FILE] [--bot-cidrs N]

No sockets and no uvicorn: the full edge app (example graph, real GeoIP and UA parsing)
answers prepared ASGI scopes built from the same request ring as the wrk script
(benchmarks/edge.lua: its addresses, user agents, languages and query strings), with a
`send` that does nothing and a sink whose `emit` is the EventSink's deque append. The
baseline is an ASGI app that sends one constant 302, as `benchmarks.edge`'s bare target
does, timed in the same run. Each loop runs `--repeat` times and the best run counts
(noise on a shared machine only ever slows a run down). `sink encode` is the msgspec
encoding of each event, which EventSink.emit does on the request path: a click costs
answer() plus that. With `--bot-cidrs N` every workspace also gets N bot IP ranges (none
of which holds a ring address, so the clicks take the same path) and the edge loop is
timed with and without them, alternating, in the same run. With `--budget` the same
campaign also gets a CPC cost and a budget, so each click spends from a lease
(edge.leases), timed alternating with the plain graph: the cost of the budget check. The
ledger is one in memory that never runs out, and the first block covers the whole run
(in process, nothing suspends, so the lease task never gets to refill).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import json
import os
import pstats
import re
import sys
import time
from collections import deque
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

import msgspec

from benchmarks.edge import bare_app
from turnout.config.compile import compile_graph
from turnout.config.io import load_graph
from turnout.config.model import CostModel, Graph
from turnout.edge.app import EdgeApp
from turnout.edge.graph import GraphHolder
from turnout.edge.redirect import ClickHandler
from turnout.edge.settings import EdgeSettings, parse_networks
from turnout.events import ENCODER

ROOT = Path(__file__).resolve().parent.parent
LUA = ROOT / "benchmarks" / "edge.lua"
EXAMPLE = ROOT / "config" / "examples" / "graph.yaml"
CODE = "CAMP_A"
Scope = MutableMapping[str, Any]
App = Callable[[Scope, Any, Any], Awaitable[None]]


class DequeSink:
    """edge.sink.EventSink.emit without its encoding (timed apart): an append to a deque.
    It keeps the last `keep` events, about what the real sink holds between batches at
    these rates, so the garbage collector sees as many live events as in production."""

    def __init__(self, keep: int = 2048) -> None:
        self.buffer: deque[tuple[str, str, Any]] = deque(maxlen=keep)

    async def start(self) -> None:
        pass

    async def close(self, timeout: float) -> None:
        pass

    def emit(self, topic: str, key: str, struct: Any) -> None:
        self.buffer.append((topic, key, struct))


class EndlessLedger:
    """A meter ledger (edge.leases.Ledger) that grants every take in full."""

    async def take(self, key: str, *, limit: int, want: int, least: int = 1) -> int:
        return want

    async def settle(self, key: str, *, given_back: int = 0, spent: int = 0) -> int:
        return 0


class StaticHolder(GraphHolder):
    async def start(self, wait: float = 0) -> None:
        pass

    async def stop(self) -> None:
        pass


def lua_table(text: str, name: str) -> list[str]:
    match = re.search(rf"local {name} = \{{(.*?)\n\}}", text, re.S)
    if match is None:
        raise SystemExit(f"{LUA}: no table {name!r}")
    return re.findall(r'"([^"]*)"', match.group(1))


def lua_string(text: str, name: str) -> str:
    match = re.search(rf'local {name} = "([^"]*)"', text)
    if match is None:
        raise SystemExit(f"{LUA}: no string {name!r}")
    return match.group(1)


def spread(j: int) -> str:
    """edge.lua's `spread`: the j-th of the 512 other client addresses."""
    if j % 8 == 0:
        return f"2a02:{j * 7919 % 65536:x}:{j * 104729 % 65536:x}::1"
    a = j * 37 % 223 + 1
    if a in (10, 127):
        a += 1
    return f"{a}.{j * 101 % 256}.{j * 53 % 256}.{j * 29 % 254 + 1}"


def request_ring(size: int = 4096) -> list[Scope]:
    """ASGI scopes for the requests the wrk script sends: edge.lua's `init`, in Python."""
    text = LUA.read_text()
    ips = lua_table(text, "ips")
    agents = lua_table(text, "agents")
    languages = lua_table(text, "languages")
    referers = lua_table(text, "referers")
    accept = lua_string(text, "accept").encode()
    scopes = []
    for i in range(size):
        ip = spread(i * 7 % 512) if i % 3 == 2 else ips[i % len(ips)]
        query = (f"zoneid=z{i % 17}&bid=0.00{i % 9 + 1}&creative=c{i % 5}"
                 f"&clickid=x{i}")
        headers = [
            (b"host", b"127.0.0.1:8080"),
            (b"x-forwarded-for", ip.encode()),
            (b"user-agent", agents[i % len(agents)].encode()),
            (b"accept", accept),
            (b"accept-encoding", b"gzip, deflate, br"),
            (b"accept-language", languages[i % len(languages)].encode()),
        ]
        if i % 4 == 1:
            headers.append((b"referer", referers[i % len(referers)].encode()))
        scopes.append({
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
            "method": "GET", "scheme": "http", "path": f"/c/{CODE}",
            "raw_path": f"/c/{CODE}".encode(), "query_string": query.encode(),
            "root_path": "", "client": ("127.0.0.1", 40000 + i % 64),
            "server": ("127.0.0.1", 8080), "headers": headers,
        })
    return scopes


async def _receive() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


async def _send(message: MutableMapping[str, Any]) -> None:
    pass


# CPU seconds of this process: on a shared machine the wall clock also counts the time
# other tenants held the core, which says nothing about the handler.
clock = time.process_time


async def run_app(app: App, scopes: list[Scope], rounds: int) -> float:
    receive, send = _receive, _send
    started = clock()
    for _ in range(rounds):
        for scope in scopes:
            await app(scope, receive, send)
    return clock() - started


def best_us(samples: list[float], count: int) -> float:
    return min(samples) / count * 1e6


def bot_cidrs(count: int) -> tuple[str, ...]:
    """`count` disjoint blocks, three in four IPv4 /28s in 198.18.0.0/15 (benchmarking
    space, which the ring's addresses avoid) and the rest IPv6 /48s in 2001:db8::/32."""
    blocks = []
    for i in range(count):
        if i % 4 == 3:
            blocks.append(f"2001:db8:{i:x}::/48")
        else:
            offset = 16 * (i - i // 4)
            blocks.append(f"198.{18 + offset // 65536}.{offset // 256 % 256}.{offset % 256}/28")
    return tuple(blocks)


def with_budget(graph: Graph) -> Graph:
    """CODE's campaign at CPC 0.01 with a budget far above what the run spends."""
    return msgspec.structs.replace(graph, campaigns=tuple(
        msgspec.structs.replace(c, cost_model=CostModel(type="cpc", value="0.01"),
                                budget="1000000000")
        if c.code == CODE else c for c in graph.campaigns))


def with_bot_cidrs(graph: Graph, count: int) -> Graph:
    ranges = bot_cidrs(count)
    return msgspec.structs.replace(graph, workspaces=tuple(
        msgspec.structs.replace(w, bot_ip_ranges=(*w.bot_ip_ranges, *ranges))
        for w in graph.workspaces
    ))


async def measure(args: argparse.Namespace) -> dict[str, float]:
    settings = EdgeSettings(secret=b"benchmark-secret-not-for-production",
                            trusted_proxies=parse_networks(("127.0.0.1/32",), "bench"),
                            lease_min_block=10**9, lease_max_block=10**9)
    holder = StaticHolder("redis://unused", "bench")
    plain = compile_graph(load_graph(EXAMPLE), 1)
    ranged = compile_graph(with_bot_cidrs(load_graph(EXAMPLE), args.bot_cidrs), 2) \
        if args.bot_cidrs else None
    budgeted = compile_graph(with_budget(load_graph(EXAMPLE)), 3) if args.budget else None
    holder.install(plain)
    sink = DequeSink()
    edge = EdgeApp(settings, lambda: sink, holder, ledger=EndlessLedger(),
                   follow_overlay=False)
    await edge.startup()
    assert edge.runtime is not None
    # The edge loop goes through the app's own dispatch, as any ASGI server would; the
    # answer loop calls a handler of the same runtime directly.
    answer = ClickHandler(edge.runtime).answer
    scopes = request_ring(args.ring)
    rounds = max(1, args.requests // len(scopes))
    count = rounds * len(scopes)
    bare = bare_app()  # benchmarks.edge's baseline: the same response, constant
    await run_app(edge, scopes, 2)  # warm every cache the ring touches
    gc.collect()
    event_bytes = len(ENCODER.encode(sink.buffer[0][2])) if sink.buffer else 0

    samples: dict[str, list[float]] = {"bare": [], "edge": [], "answer": [], "encode": []}
    if ranged is not None:
        samples["edge_bot_cidrs"] = []
    if budgeted is not None:
        samples["edge_budget"] = []
    for _ in range(args.repeat):
        if budgeted is not None:
            holder.install(budgeted)
            assert edge.leases is not None
            await edge.leases.step(edge.leases.now_ms())  # its lease's first block
            await run_app(edge, scopes, 1)  # the handler's per-snapshot caches
            samples["edge_budget"].append(await run_app(edge, scopes, rounds))
            holder.install(plain)
            await run_app(edge, scopes, 1)
        if ranged is not None:
            holder.install(ranged)
            await run_app(edge, scopes, 1)  # the handler's per-snapshot caches
            samples["edge_bot_cidrs"].append(await run_app(edge, scopes, rounds))
            holder.install(plain)
            await run_app(edge, scopes, 1)
        samples["bare"].append(await run_app(bare, scopes, rounds))
        sink.buffer.clear()
        samples["edge"].append(await run_app(edge, scopes, rounds))
        events = list(sink.buffer)
        started = clock()
        for _topic, key, struct in events:
            key.encode()
            ENCODER.encode(struct)
        samples["encode"].append((clock() - started) / max(1, len(events)) * count)
        started = clock()
        for _ in range(rounds):
            for scope in scopes:
                answer(scope, False)
        samples["answer"].append(clock() - started)
    if args.profile:
        profiler = cProfile.Profile()
        profiler.enable()
        await run_app(edge, scopes, rounds)
        profiler.disable()
        profiler.dump_stats(args.profile)
        pstats.Stats(args.profile).sort_stats("tottime").print_stats(25)
    await edge.shutdown()
    result = {name: best_us(values, count) for name, values in samples.items()}
    result["requests"] = count
    result["event_bytes"] = event_bytes
    result["bot_cidrs"] = args.bot_cidrs
    if budgeted is not None:
        assert edge.leases is not None
        refused = sum(edge.leases.refused.values())
        assert refused == 0, f"{refused} clicks refused: the budget run measured refusals"
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=24_576)
    parser.add_argument("--ring", type=int, default=4096, help="distinct requests (wrk's ring)")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--cpu", type=int, default=1)
    parser.add_argument("--profile", help="write a cProfile of one extra edge loop here")
    parser.add_argument("--bot-cidrs", type=int, default=0,
                        help="also time clicks with this many bot IP ranges per workspace")
    parser.add_argument("--budget", action="store_true",
                        help="also time clicks spending from a CPC budget's lease")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        allowed = os.sched_getaffinity(0)
        os.sched_setaffinity(0, {args.cpu if args.cpu in allowed else min(allowed)})
    result = asyncio.run(measure(args))
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"{result['requests']} requests per loop, best of {args.repeat}, CPU time")
    print(f"trivial ASGI app   {result['bare']:8.2f} us/request")
    print(f"edge /c/{CODE:10} {result['edge']:8.2f} us/request "
          f"({result['edge'] / result['bare']:.1f}x the trivial app)")
    if args.bot_cidrs:
        print(f"  {args.bot_cidrs:5} bot CIDRs  {result['edge_bot_cidrs']:8.2f} us/request "
              f"({result['edge_bot_cidrs'] - result['edge']:+.2f} us)")
    if "edge_budget" in result:
        print(f"  with a CPC budget {result['edge_budget']:7.2f} us/request "
              f"({result['edge_budget'] - result['edge']:+.2f} us)")
    print(f"  answer() alone   {result['answer']:8.2f} us/request")
    print(f"  + sink encode    {result['encode']:8.2f} us/event ({result['event_bytes']} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
