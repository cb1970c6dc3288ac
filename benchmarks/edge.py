"""Redirect throughput: the full edge against a bare uvicorn 302 (and nginx, if present).

    python -m benchmarks.edge [--duration 10] [--connections 64] [--json]

wrk runs on core 0 (`taskset -c 0`), the server under test on core 1, one target at a
time, every target driven by the same Lua script (benchmarks/edge.lua: the same request
ring of X-Forwarded-For addresses, user agents and query strings). The full edge runs
against a real local stack (Valkey with the example graph published, tansu Kafka), so
GeoIP, UA parsing, the splitter and the event sink all do their work.
Needs wrk: `apt-get install -y wrk`.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LUA = ROOT / "benchmarks" / "edge.lua"
CODE = "CAMP_A"
_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def bare_app():
    """The baseline: an ASGI app that answers every request with one constant 302."""
    start = {
        "type": "http.response.start",
        "status": 302,
        "headers": [(b"location", b"https://lp.example.com/us?cid=01M7YPGTFDDHG53XPNTMQ98MHF"),
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
    return result


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


def stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def measure(name: str, process: subprocess.Popen[bytes], port: int, path: str,
            args: argparse.Namespace) -> dict[str, float]:
    base = f"http://127.0.0.1:{port}"
    try:
        wait_http(port, "/readyz" if name == "edge" else path)
        run_wrk(base, path, 2, args.connections)  # warm caches, JIT-free but page cache etc.
        result = run_wrk(base, path, args.duration, args.connections)
        if name == "edge":
            with urllib.request.urlopen(f"{base}/metrics", timeout=5) as response:
                metrics = response.read().decode()
            result["server_p99_ms"] = server_p99_ms(metrics)
            sent = re.findall(r'turnout_sink_sent_total\{topic="turnout.clicks"\} (\d+)', metrics)
            result["events_sent"] = int(sent[0]) if sent else 0
        return result
    finally:
        stop(process)


async def publish_example(redis_url: str) -> int:
    import redis.asyncio as aioredis

    from config.io import load_graph
    from config.store import GraphStore

    client = aioredis.Redis.from_url(redis_url)
    try:
        return await GraphStore(client).publish(load_graph(ROOT / "examples" / "graph.yaml"))
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
        "      return 302 https://lp.example.com/us?cid=01M7YPGTFDDHG53XPNTMQ98MHF; } } }\n"
    )
    return [nginx, "-c", str(conf), "-p", str(workdir)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--json", action="store_true")
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
    from turnout.services import free_port, local_stack
    from turnout.topics import ensure_topics

    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="turnout-bench-") as tmp, \
            local_stack(Path(tmp) / "stack") as stack:
        asyncio.run(ensure_topics(stack.kafka_bootstrap))
        version = asyncio.run(publish_example(stack.redis_url))
        env = {**os.environ, **stack.environ(), "TURNOUT_EDGE_TRUSTED_PROXIES": "127.0.0.1/32",
               "TURNOUT_EDGE_SECRET": "benchmark-secret-not-for-production"}
        path = f"/c/{CODE}"

        port = free_port()
        bare = start([sys.executable, "-m", "benchmarks.edge", "--serve-bare", str(port)], env)
        results["bare"] = measure("bare", bare, port, path, args)

        port = free_port()
        edge = start([sys.executable, "-m", "turnout.cli", "edge", "--port", str(port)],
                     {**env, "TURNOUT_EDGE_PORT": str(port)})
        results["edge"] = measure("edge", edge, port, path, args)

        port = free_port()
        argv = nginx_target(port, Path(tmp))
        if argv is not None:
            results["nginx"] = measure("nginx", start(argv, env), port, path, args)
    bare_rps = results["bare"]["rps"]
    summary = {
        "graph_version": version,
        "connections": args.connections,
        "duration_s": args.duration,
        "results": results,
        "edge_vs_bare": results["edge"]["rps"] / bare_rps,
        "goal_met": results["edge"]["rps"] >= 0.5 * bare_rps and results["edge"]["p99_ms"] < 5,
    }
    if "nginx" in results:
        summary["bare_vs_nginx"] = bare_rps / results["nginx"]["rps"]
    if args.json:
        print(json.dumps(summary, indent=2))
        return 0
    print(f"{'target':8} {'req/s':>10} {'p50 ms':>8} {'p99 ms':>8}  notes")
    for name, r in results.items():
        notes = ""
        if name == "edge":
            notes = (f"server-side p99 <= {r.get('server_p99_ms')} ms, "
                     f"{r.get('events_sent', 0)} clicks sent to Kafka")
        print(f"{name:8} {r['rps']:>10.0f} {r['p50_ms']:>8.2f} {r['p99_ms']:>8.2f}  {notes}")
    print(f"edge / bare = {summary['edge_vs_bare']:.2f} "
          f"(goal >= 0.50 with p99 < 5 ms: {'met' if summary['goal_met'] else 'NOT met'})")
    if "bare_vs_nginx" in summary:
        print(f"bare uvicorn / nginx = {summary['bare_vs_nginx']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
