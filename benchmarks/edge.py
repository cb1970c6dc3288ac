"""Redirect throughput and paced latency: the full edge against a bare uvicorn 302 (and nginx).

    python -m benchmarks.edge [--duration 10] [--connections 64] [--rounds 3]
                              [--rate N] [--baseline TREE | --interpreted-baseline]
                              [--profile FILE] [--json]

wrk runs on core 0 (`taskset -c 0`), the server under test on core 1, one target at a
time, every target driven by the same request ring (benchmarks/edge.lua: X-Forwarded-For
addresses, user agents, browser headers and query strings) and answering with the same
status and headers (two cookies, a Location). The full edge runs against a real local
stack (Valkey with the example graph published, tansu Kafka), so GeoIP, UA parsing, the
splitter and the event sink all do their work.

Each target is measured twice per round: closed loop (every connection sends its next
request as soon as it has the answer: the rate it can sustain) and paced
(benchmarks/edge_paced.lua: the same ring, all connections together offering a fixed
rate: the latency a client sees at a load the server can carry). The offered rate is
`--rate`, or half of bare uvicorn's closed-loop rate in the first round, the same for
every target and round. Figures per round, medians over rounds, and the edge-to-bare
ratios of issue #14's goals (benchmarks/edge_figures.py). Besides rate and latency, each
target's CPU time per request is measured from /proc: on a shared machine the rate also
depends on who else wanted core 1, the CPU per request much less.
Needs wrk: `apt-get install -y wrk` (and nginx-light for the nginx target)."""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks import wrk
from benchmarks.edge_figures import clicks_sent, paced_rate, server_p99_ms, summarise
from turnout.config import examples
from turnout.local.services import stop_process

CODE = "CAMP_A"
EDGES = ("edge", "edge_base")
INTERPRETED = "TURNOUT_INTERPRETED"  # turnout/compiled.py: run the sources, not the builds
SETTLE_S = 1.0  # between a target's closed-loop and paced runs: its sink drains


# What the edge answers a typical /c/CAMP_A click with (a new visitor sent to a lander):
# the bare app and nginx send the same status and headers, so every target writes a
# response of the same size and shape and the comparison is of the work behind it.
LOCATION = "https://lp.example.com/global?cid=01M7YRQ9TW2E7ETG6W99B67DH4&c=SE"
VISITOR_COOKIE = "tv=01M7YRQ9TWZTPGDRJS72CWB2C9; Max-Age=31536000; Path=/; SameSite=Lax; HttpOnly"
CONTEXT_COOKIE = (
    "tc=W1siMDFNN1lSUTlUVzJFN0VURzZXOTlCNjdESDQiLCJjYW1wLWEiLDEsImRlZmF1bHQiLCJnbG9iYWwiLDAs"
    "MTc5NTI1NTE1MDQyOF1d.HF6ZSszHPwVQwyMzzf6GWQ; Max-Age=2592000; Path=/; SameSite=Lax; HttpOnly"
)


def bare_app():
    """The baseline: an ASGI app that answers every request with one constant 302."""
    start = {
        "type": "http.response.start",
        "status": 302,
        "headers": [(b"set-cookie", VISITOR_COOKIE.encode()),
                    (b"set-cookie", CONTEXT_COOKIE.encode()),
                    (b"location", LOCATION.encode()),
                    (b"cache-control", b"no-store"), (b"content-length", b"0")],
    }
    body = {"type": "http.response.body", "body": b""}

    async def app(scope, receive, send):
        if scope["type"] == "http":
            await send(start)
            await send(body)
        elif scope["type"] == "lifespan":
            while True:
                message = await receive()
                await send({"type": message["type"] + ".complete"})
                if message["type"] == "lifespan.shutdown":
                    return

    return app


def serve_bare(port: int) -> None:
    import uvicorn

    uvicorn.run(bare_app(), host="127.0.0.1", port=port, loop="uvloop", http="httptools",
                access_log=False, proxy_headers=False, server_header=False, log_level="warning")


def wait_http(port: int, path: str, timeout: float = 30.0) -> None:
    """Until the server answers `path` with something other than a 5xx (no redirects)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            connection.request("GET", path)
            if connection.getresponse().status < 500:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"port {port} did not answer {path} in {timeout}s")


_TICK = os.sysconf("SC_CLK_TCK")


def tree_cpu_seconds(root: int) -> float:
    """CPU seconds (user + system) of `root` and its descendants (nginx's worker), so far."""
    stats: dict[int, tuple[int, float]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        stats[int(entry.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / _TICK)
    total, todo = 0.0, [root]
    while todo:
        pid = todo.pop()
        total += stats.get(pid, (0, 0.0))[1]
        todo += [child for child, (parent, _) in stats.items() if parent == pid]
    return total


def start(argv: list[str], env: dict[str, str], cwd: Path = wrk.ROOT
          ) -> subprocess.Popen[bytes]:
    return subprocess.Popen(["taskset", "-c", "1", *argv], env=env, cwd=cwd,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def edge_argv(tree: Path, port: int) -> list[str]:
    """The edge of a source tree, run by that tree's own virtualenv (the baseline's) or ours."""
    python = tree / ".venv" / "bin" / "python" if tree != wrk.ROOT else Path(sys.executable)
    return [str(python), "-m", "turnout.cli.main", "edge", "--port", str(port)]


def scrape(base: str) -> str:
    with urllib.request.urlopen(f"{base}/metrics", timeout=5) as response:
        return response.read().decode()


def timed(name: str, process: subprocess.Popen[bytes], base: str, path: str,
          args: argparse.Namespace, rate: float | None, profile: str | None = None
          ) -> dict[str, Any]:
    """One wrk run against a started target, with its CPU per request (and, for the edge,
    its own handler-time p99 and the clicks it sent, over this run alone)."""
    before = scrape(base) if name in EDGES else ""
    profiler = None
    if profile:
        # --nonblocking: sampling must not pause the loop it is looking at; --threads:
        # every stack names its thread, so the event loop's can be told from the pool's.
        profiler = subprocess.Popen(
            [str(Path(sys.executable).with_name("py-spy")), "record", "--nonblocking",
             "--threads", "-r", "500", "-f", "raw", "-o", profile, "--pid", str(process.pid),
             "--duration", str(args.duration)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    cpu = tree_cpu_seconds(process.pid)
    result = wrk.run(base, path, args.duration, args.connections, rate)
    # CPU per answered request: what the server spent, whoever else shared its core.
    result["cpu_us"] = (tree_cpu_seconds(process.pid) - cpu) / max(1, result["requests"]) * 1e6
    if profiler is not None:
        profiler.wait(30)
        result["profiled"] = True
    if name in EDGES:
        after = scrape(base)
        result["server_p99_ms"] = server_p99_ms(after, before)
        result["events_sent"] = clicks_sent(after) - clicks_sent(before)
    return result


def measure(name: str, process: subprocess.Popen[bytes], port: int, path: str,
            args: argparse.Namespace, pace: Callable[[float], float]
            ) -> tuple[dict[str, Any], dict[str, Any]]:
    """(closed-loop, paced) figures of one target; `pace` turns its closed-loop rate into
    the offered rate of its paced run."""
    base = f"http://127.0.0.1:{port}"
    try:
        wait_http(port, "/readyz" if name in EDGES else path)
        wrk.run(base, path, 3, args.connections)  # warm every cache the ring touches
        closed = timed(name, process, base, path, args, None)
        time.sleep(SETTLE_S)
        profile = args.profile if name == "edge" and args.profile else None
        paced = timed(name, process, base, path, args, pace(closed["rps"]), profile)
        return closed, paced
    finally:
        stop_process(process, 30)


async def publish_example(redis_url: str) -> int:
    import redis.asyncio as aioredis

    from turnout.config.io import load_graph
    from turnout.config.store import GraphStore

    client = aioredis.Redis.from_url(redis_url)
    try:
        return await GraphStore(client).publish(load_graph(examples.GRAPH))
    finally:
        await client.aclose()


def nginx_target(port: int, workdir: Path) -> list[str] | None:
    nginx = shutil.which("nginx")
    if nginx is None:
        return None
    conf = workdir / "nginx.conf"
    conf.write_text(
        f"daemon off; worker_processes 1; pid {workdir}/nginx.pid; error_log stderr error;\n"
        "events { worker_connections 1024; }\n"
        "http { access_log off;\n"
        f"  client_body_temp_path {workdir}; proxy_temp_path {workdir};\n"
        f"  fastcgi_temp_path {workdir}; uwsgi_temp_path {workdir}; scgi_temp_path {workdir};\n"
        f"  server {{ listen 127.0.0.1:{port};\n"
        "    location / { add_header Cache-Control no-store;\n"
        f'      add_header Set-Cookie "{VISITOR_COOKIE}";\n'
        f'      add_header Set-Cookie "{CONTEXT_COOKIE}";\n'
        f"      return 302 {LOCATION}; }} }} }}\n"
    )
    return [nginx, "-c", str(conf), "-p", str(workdir)]


def edge_targets(args: argparse.Namespace) -> list[tuple[str, Path, dict[str, str]]]:
    """(name, source tree, extra environment) of each edge measured in a round."""
    # py-spy sees no frames inside compiled modules: a profiled edge runs its sources.
    edges = [("edge", wrk.ROOT, {INTERPRETED: "1"} if args.profile else {})]
    if args.baseline:
        edges.append(("edge_base", args.baseline, {}))
    elif args.interpreted_baseline:
        edges.append(("edge_base", wrk.ROOT, {INTERPRETED: "1"}))
    return edges


def run_round(env: dict[str, str], path: str, workdir: Path, args: argparse.Namespace,
              rate: float | None, number: int) -> dict[str, dict[str, dict[str, Any]]]:
    """Every target closed-loop then paced; `rate` None: half of this round's bare rate."""
    from turnout.local.services import free_port

    round_: dict[str, dict[str, dict[str, Any]]] = {"closed": {}, "paced": {}}

    def keep(target: str, figures: tuple[dict[str, Any], dict[str, Any]]) -> None:
        round_["closed"][target], round_["paced"][target] = figures

    port = free_port()
    bare = start([sys.executable, "-m", "benchmarks.edge", "--serve-bare", str(port)], env)
    keep("bare", measure("bare", bare, port, path, args,
                         lambda rps: paced_rate(rps, rate)))
    offered = round_["paced"]["bare"]["offered_rps"]

    edges = edge_targets(args)
    if number % 2:
        edges.reverse()  # neither edge always runs right after bare uvicorn
    for name, tree, extra in edges:
        port = free_port()
        edge = start(edge_argv(tree, port),
                     {**env, **extra, "TURNOUT_EDGE_PORT": str(port)}, tree)
        keep(name, measure(name, edge, port, path, args, lambda _: offered))

    port = free_port()
    argv = nginx_target(port, workdir)
    if argv is not None:
        keep("nginx", measure("nginx", start(argv, env), port, path, args, lambda _: offered))
    return round_


def report(title: str, rounds: dict[str, dict[str, dict[str, Any]]],
           ratios: dict[str, float]) -> None:
    print(title)
    for mode, heading in (("closed", "closed loop"), ("paced", "paced")):
        offered = rounds[mode]["bare"].get("offered_rps")
        print(f"  {heading}" + (f", {offered:.0f} req/s offered" if offered else ""))
        print(f"    {'target':6} {'req/s':>8} {'p50 ms':>7} {'p99 ms':>7} {'p99.9 ms':>8} "
              f"{'max ms':>7} {'late':>6} {'CPU us/req':>10}  notes")
        for name, r in rounds[mode].items():
            notes = ""
            if name in EDGES:
                notes = (f"server-side p99 <= {r.get('server_p99_ms')} ms, "
                         f"{r.get('events_sent', 0):.0f} clicks sent")
            print(f"    {name:6} {r['rps']:>8.0f} {r['p50_ms']:>7.2f} {r['p99_ms']:>7.2f} "
                  f"{r['p999_ms']:>8.2f} {r['max_ms']:>7.1f} {r.get('late_sends', 0):>6.0f} "
                  f"{r['cpu_us']:>10.1f}  {notes}")
    for suffix, label in (("", "edge"), ("@base", "edge_base")):
        if f"closed_rate_edge_vs_bare{suffix}" not in ratios:
            continue
        r = {name.removesuffix(suffix): value for name, value in ratios.items()
             if name.endswith(suffix) and "@" not in name.removesuffix(suffix)}
        print(f"  {label} / bare: closed-loop rate {r['closed_rate_edge_vs_bare']:.2f}"
              f" (CPU per request {r['closed_cpu_bare_vs_edge']:.2f}); paced p99 "
              f"{r['paced_p99_edge_vs_bare']:.2f}x, p99.9 {r['paced_p999_edge_vs_bare']:.2f}x, "
              f"p50 {r['paced_p50_edge_minus_bare_ms']:+.2f} ms")


def report_goals(goals: dict[str, dict[str, Any]]) -> None:
    for name, goal in goals.items():
        print(f"  goal {name} {goal['goal']}: {goal['value']:.2f} "
              f"{'met' if goal['met'] else 'NOT met'}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run (10)")
    parser.add_argument("--connections", type=int, default=64,
                        help="wrk connections held open (64)")
    parser.add_argument("--rounds", type=int, default=3,
                        help="measure every target this many times, alternating (3)")
    parser.add_argument("--rate", type=float,
                        help="offered req/s of the paced runs (half of bare's closed-loop rate)")
    baselines = parser.add_mutually_exclusive_group()  # both would be edge_base
    baselines.add_argument("--baseline", type=Path,
                           help="another source tree (a git worktree with its own .venv): its "
                           "edge is measured too, as edge_base, in the same rounds")
    baselines.add_argument("--interpreted-baseline", action="store_true",
                           help="measure this tree's edge also from its sources "
                           f"({INTERPRETED}=1), as edge_base: what compiling the click path "
                           "gains, in the same rounds")
    parser.add_argument("--profile", help="py-spy the edge during its paced run (raw format, "
                        "threads named; the last round's) into this file, for "
                        "benchmarks.profile_summary; the edge then runs its sources "
                        f"({INTERPRETED}=1: py-spy sees no frames in compiled code), and "
                        "its figures are disturbed")
    parser.add_argument("--json", action="store_true",
                        help="print one JSON object of the figures instead of the table")
    parser.add_argument("--serve-bare", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_bare:
        serve_bare(args.serve_bare)
        return 0
    if args.baseline and not (args.baseline / ".venv" / "bin" / "python").exists():
        print(f"--baseline {args.baseline}: no .venv/bin/python there", file=sys.stderr)
        return 2
    if shutil.which("wrk") is None:
        print("wrk is not installed: `apt-get install -y wrk` (Debian/Ubuntu)", file=sys.stderr)
        return 2
    if (os.cpu_count() or 1) < 2:
        print("needs two cores (wrk on core 0, the server on core 1)", file=sys.stderr)
        return 2
    from turnout.local.services import local_stack
    from turnout.topics import ensure_topics

    rounds: list[dict[str, Any]] = []
    rate = args.rate
    with tempfile.TemporaryDirectory(prefix="turnout-bench-") as tmp, \
            local_stack(Path(tmp) / "stack") as stack:
        asyncio.run(ensure_topics(stack.kafka_bootstrap))
        version = asyncio.run(publish_example(stack.redis_url))
        env = {**os.environ, **stack.environ(), "TURNOUT_EDGE_TRUSTED_PROXIES": "127.0.0.1/32",
               "TURNOUT_EDGE_SECRET": "benchmark-secret-not-for-production"}
        for number in range(args.rounds):
            round_ = run_round(env, f"/c/{CODE}", Path(tmp), args, rate, number)
            rate = round_["paced"]["bare"]["offered_rps"]  # every later round: the same
            rounds.append(round_)
            if not args.json:
                report(f"round {number + 1} of {args.rounds}", round_,
                       summarise([round_])["ratios"])
    summary = summarise(rounds)
    if args.json:
        print(json.dumps({"benchmark": "edge", "graph_version": version,
                          "connections": args.connections, "duration_s": args.duration,
                          "offered_rps": rate,
                          "rate_from": "--rate" if args.rate else "half of bare's closed-loop "
                                       "rate in round 1",
                          "rounds": rounds, **summary}, indent=2))
    else:
        report(f"medians of {args.rounds} rounds", summary["medians"], summary["ratios"])
        report_goals(summary["goals"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
