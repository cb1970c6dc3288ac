"""`turnout dev`: the whole local stack on embedded defaults, for a newcomer's first run.

Valkey and tansu from their wheels, the example graph published, the ClickHouse schema
migrated (chdb under the data dir), then the edge and one ingest+API process (chdb
allows one data path per process, so ingest and the API share one). Ctrl-C stops all.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import threading
from pathlib import Path

from turnout.config import examples
from turnout.connections import Connections
from turnout.local.services import (
    LocalStack,
    Service,
    ServiceError,
    free_port,
    http_ok,
    local_stack,
    port_is_free,
)

BROWSER = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36"
EXAMPLE_GRAPH = examples.GRAPH


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("dev", help="run the whole local stack on embedded defaults")
    parser.add_argument("--graph", type=Path, default=EXAMPLE_GRAPH, help="graph to publish")
    parser.add_argument("--edge-port", type=int, default=8080,
                        help="edge port (8080; a free one when taken)")
    parser.add_argument("--api-port", type=int, default=8081,
                        help="report API port (8081; a free one when taken)")
    parser.set_defaults(func=run)


def _port(preferred: int) -> int:
    return preferred if port_is_free(preferred) else free_port()


async def _publish(redis_url: str, graph_path: Path) -> tuple[int, bool]:
    """Publish the graph unless the current version already equals it."""
    from redis.asyncio import Redis

    from turnout.config.io import load_graph
    from turnout.config.store import GraphStore

    graph = load_graph(graph_path)
    redis = Redis.from_url(redis_url)
    try:
        store = GraphStore(redis)
        current = await store.load_current()
        if current is not None and current[1] == graph:
            return current[0], False
        return await store.publish(graph, note=f"turnout dev: {graph_path.name}"), True
    finally:
        await redis.aclose()




def run(args: argparse.Namespace) -> int:
    from turnout.topics import ensure_topics

    connections = Connections.from_env()
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    turnout = [sys.executable, "-m", "turnout.cli.main"]
    children: list[Service] = []
    try:
        with local_stack(connections.data_dir, persist_redis=True) as stack:
            asyncio.run(ensure_topics(stack.kafka_bootstrap))
            version, fresh = asyncio.run(_publish(stack.redis_url, args.graph))
            edge_port, api_port = _port(args.edge_port), _port(args.api_port)
            token, env = _dev_environ(stack)
            _run_once([*turnout, "migrate"], env)
            children = [
                Service("edge", edge_port,
                        [*turnout, "edge", "--host", "127.0.0.1", "--port", str(edge_port)],
                        http_ok, stack.data_dir / "run", env=env),
                Service("ingest-api", api_port,
                        [*turnout, "ingest", "--api", "--api-host", "127.0.0.1",
                         "--api-port", str(api_port)],
                        http_ok, stack.data_dir / "run", env=env),
            ]
            for child in children:
                child.start(timeout=60)
            _print_banner(stack, version, fresh, edge_port, api_port, args.graph, token)
            while not stop.wait(1.0):
                dead = [child.name for child in children if not child.running]
                if dead:
                    print(f"turnout dev: {', '.join(dead)} exited; see {stack.data_dir / 'run'}",
                          file=sys.stderr)
                    return 1
            print("\nstopping…", flush=True)
    except ServiceError as exc:
        print(f"turnout dev: {exc}", file=sys.stderr)
        return 1
    finally:
        for child in reversed(children):
            child.stop(timeout=15)
    print("stopped: valkey, tansu, edge, ingest+api", flush=True)
    return 0


def _dev_environ(stack: LocalStack) -> tuple[str, dict[str, str]]:
    """Children's environment: the stack's settings and a fresh report API key for the
    example graph's workspaces."""
    from turnout.api.keys import key_line, new_token
    from turnout.config.io import load_graph

    token = new_token()
    workspaces = [workspace.id for workspace in load_graph(EXAMPLE_GRAPH).workspaces]
    env = {
        **os.environ,
        **stack.environ(),
        "TURNOUT_API_KEYS": "\n".join(key_line(workspace, token) for workspace in workspaces),
    }
    return token, env


def _run_once(argv: list[str], env: dict[str, str]) -> None:
    import subprocess

    result = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise ServiceError(f"{' '.join(argv[2:])} failed:\n{result.stdout}{result.stderr}")


def _print_banner(stack: LocalStack, version: int, fresh: bool, edge_port: int, api_port: int,
                  graph_path: Path, token: str) -> None:
    from turnout.config.io import load_graph

    graph = load_graph(graph_path)
    edge = f"http://127.0.0.1:{edge_port}"
    api = f"http://127.0.0.1:{api_port}"
    first = graph.campaigns[0]
    # A network that accepts postbacks from this machine (no IP allowlist).
    network = next((n for n in graph.networks if not n.ip_allowlist), graph.networks[0])
    workspace = graph.workspaces[0]
    lines = [
        "",
        f"turnout is running (graph version {version}{' published' if fresh else ', unchanged'})",
        f"  edge      {edge}        (/healthz /readyz /metrics)",
        f"  report API {api}        (/openapi.json)",
        f"  valkey    {stack.redis_url}",
        f"  kafka     {stack.kafka_bootstrap} (tansu)",
        f"  clickhouse {stack.clickhouse_dsn}",
        f"  logs      {stack.data_dir / 'run'}",
        "",
        "campaign links:",
        *(f"  {edge}/c/{c.code}" for c in graph.campaigns),
        "",
        "try it:",
        f"  curl -si -A '{BROWSER}' -H 'X-Forwarded-For: 214.78.0.1' \\\n"
        f"       '{edge}/c/{first.code}?sub1=test' | grep -i location",
        f"  curl -s '{edge}/postback?clickid=<CLICK ID FROM Location>&payout=12.50"
        f"&txid=t1&secret={network.secret}'",
        f"  export TURNOUT_API_URL={api} TURNOUT_API_KEY={token}",
        f"  .venv/bin/turnout report --workspace {workspace.id} --group-by campaign,country",
        "",
        "Ctrl-C stops everything.",
    ]
    print("\n".join(lines), flush=True)
