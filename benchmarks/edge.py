"""Redirect throughput: the full edge against a bare uvicorn 302 (and nginx, if present).

    python -m benchmarks.edge [--duration 10] [--connections 64] [--rounds 1]
                              [--profile FILE] [--json]

wrk runs on core 0 (`taskset -c 0`), the server under test on core 1, one target at a
time, every target driven by the same Lua script (benchmarks/edge.lua: the same request
ring of X-Forwarded-For addresses, user agents, browser headers and query strings) and
answering with the same status and headers (two cookies, a Location). The full edge runs
against a real local stack (Valkey with the example graph published, tansu Kafka), so
GeoIP, UA parsing, the splitter and the event sink all do their work. Besides rate and
latency, each target's CPU time per request is measured from /proc: on a shared machine
the rate also depends on who else wanted core 1, the CPU per request much less.
Needs wrk: `apt-get install -y wrk`."""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from turnout.config import examples
from turnout.local.services import stop_process

ROOT = Path(__file__).resolve().parent.parent
LUA = ROOT / "benchmarks" / "edge.lua"
CODE = "CAMP_A"
_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


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


def run_wrk(url: str, path: str, duration: int, connections: int) -> dict[str, float]:
    argv = ["taskset", "-c", "0", "wrk", "-t1", f"-c{connections}", f"-d{duration}s",
            "--latency", "-s", str(LUA), url, "--", path]
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    result = {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))}
    for label, key in (("50%", "p50_ms"), ("99%", "p99_ms")):
        match = re.search(rf"{re.escape(label)}\s+([\d.]+)(us|ms|s)\b", out)
        result[key] = float(match.group(1)) * _UNITS[match.group(2)]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    result["bad_responses"] = int(errors.group(1)) if errors else 0
    result["requests"] = int(re.search(r"(\d+) requests in", out).group(1))
    return result


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


def server_p99_ms(metrics: str) -> float | None:
    """The upper bound of the histogram bucket holding the 99th percentile of handler time."""
    buckets = [(float("inf") if le == "+Inf" else float(le), int(n)) for le, n in re.findall(
        r'turnout_edge_redirect_seconds_bucket\{le="([^"]+)"\} (\d+)', metrics)]
    if not buckets or buckets[-1][1] == 0:
        return None
    total = buckets[-1][1]
    return next(le * 1000 for le, n in buckets if n >= 0.99 * total)


def start(argv: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(["taskset", "-c", "1", *argv], env=env, cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def measure(name: str, process: subprocess.Popen[bytes], port: int, path: str,
            args: argparse.Namespace) -> dict[str, float]:
    base = f"http://127.0.0.1:{port}"
    try:
        wait_http(port, "/readyz" if name == "edge" else path)
        run_wrk(base, path, 3, args.connections)  # warm every cache the ring touches
        profiler = None
        if name == "edge" and args.profile:
            profiler = subprocess.Popen(
                [str(Path(sys.executable).with_name("py-spy")), "record", "-r", "250", "-f",
                 "raw", "-o", args.profile, "--pid", str(process.pid), "--duration",
                 str(args.duration)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        cpu = tree_cpu_seconds(process.pid)
        result = run_wrk(base, path, args.duration, args.connections)
        # CPU per answered request: what the server spent, whoever else shared its core.
        result["cpu_us"] = (tree_cpu_seconds(process.pid) - cpu) / result["requests"] * 1e6
        if profiler is not None:
            profiler.wait(30)
        if name == "edge":
            with urllib.request.urlopen(f"{base}/metrics", timeout=5) as response:
                metrics = response.read().decode()
            result["server_p99_ms"] = server_p99_ms(metrics)
            sent = re.findall(r'turnout_sink_sent_total\{topic="turnout.clicks"\} (\d+)', metrics)
            result["events_sent"] = int(sent[0]) if sent else 0
        return result
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


def run_round(env: dict[str, str], path: str, workdir: Path, args: argparse.Namespace
              ) -> dict[str, dict[str, float]]:
    from turnout.local.services import free_port

    results: dict[str, dict[str, float]] = {}
    port = free_port()
    bare = start([sys.executable, "-m", "benchmarks.edge", "--serve-bare", str(port)], env)
    results["bare"] = measure("bare", bare, port, path, args)

    port = free_port()
    edge = start([sys.executable, "-m", "turnout.cli.main", "edge", "--port", str(port)],
                 {**env, "TURNOUT_EDGE_PORT": str(port)})
    results["edge"] = measure("edge", edge, port, path, args)

    port = free_port()
    argv = nginx_target(port, workdir)
    if argv is not None:
        results["nginx"] = measure("nginx", start(argv, env), port, path, args)
    return results


def summarise(results: dict[str, dict[str, float]]) -> dict[str, Any]:
    bare, edge = results["bare"], results["edge"]
    summary: dict[str, Any] = {
        "results": results,
        "edge_vs_bare": edge["rps"] / bare["rps"],
        # CPU per request, bare over edge: the rate ratio a machine with nothing else on
        # the server's core would show, when the server is CPU-bound (it is, at 64 conns).
        "edge_vs_bare_cpu": bare["cpu_us"] / edge["cpu_us"],
        "goal_met": edge["rps"] >= 0.5 * bare["rps"] and edge["p99_ms"] < 5,
    }
    if "nginx" in results:
        summary["bare_vs_nginx"] = bare["rps"] / results["nginx"]["rps"]
    return summary


def report(summary: dict[str, Any]) -> None:
    print(f"{'target':8} {'req/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'CPU us/req':>10}  notes")
    for name, r in summary["results"].items():
        notes = ""
        if name == "edge":
            notes = (f"server-side p99 <= {r.get('server_p99_ms')} ms, "
                     f"{r.get('events_sent', 0)} clicks sent to Kafka")
        print(f"{name:8} {r['rps']:>10.0f} {r['p50_ms']:>8.2f} {r['p99_ms']:>8.2f} "
              f"{r['cpu_us']:>10.1f}  {notes}")
    print(f"edge / bare = {summary['edge_vs_bare']:.2f} by rate, "
          f"{summary['edge_vs_bare_cpu']:.2f} by CPU per request "
          f"(goal >= 0.50 with p99 < 5 ms: {'met' if summary['goal_met'] else 'NOT met'})")
    if "bare_vs_nginx" in summary:
        print(f"bare uvicorn / nginx = {summary['bare_vs_nginx']:.2f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run (10)")
    parser.add_argument("--connections", type=int, default=64,
                        help="wrk connections held open (64)")
    parser.add_argument("--rounds", type=int, default=1,
                        help="measure every target this many times, alternating")
    parser.add_argument("--profile", help="py-spy the edge during its runs (raw format) here")
    parser.add_argument("--json", action="store_true",
                        help="print one JSON object of the figures instead of the table")
    parser.add_argument("--serve-bare", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_bare:
        serve_bare(args.serve_bare)
        return 0
    if shutil.which("wrk") is None:
        print("wrk is not installed: `apt-get install -y wrk` (Debian/Ubuntu)", file=sys.stderr)
        return 2
    if (os.cpu_count() or 1) < 2:
        print("needs two cores (wrk on core 0, the server on core 1)", file=sys.stderr)
        return 2
    from turnout.local.services import local_stack
    from turnout.topics import ensure_topics

    rounds = []
    with tempfile.TemporaryDirectory(prefix="turnout-bench-") as tmp, \
            local_stack(Path(tmp) / "stack") as stack:
        asyncio.run(ensure_topics(stack.kafka_bootstrap))
        version = asyncio.run(publish_example(stack.redis_url))
        env = {**os.environ, **stack.environ(), "TURNOUT_EDGE_TRUSTED_PROXIES": "127.0.0.1/32",
               "TURNOUT_EDGE_SECRET": "benchmark-secret-not-for-production"}
        for number in range(args.rounds):
            summary = summarise(run_round(env, f"/c/{CODE}", Path(tmp), args))
            rounds.append(summary)
            if not args.json:
                if args.rounds > 1:
                    print(f"-- round {number + 1} of {args.rounds}")
                report(summary)
    if args.json:
        print(json.dumps({"graph_version": version, "connections": args.connections,
                          "duration_s": args.duration, "rounds": rounds}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
