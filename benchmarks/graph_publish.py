"""The 10,000-campaign graph through the real path: validate, publish, an edge loading it,
one-campaign changes served, and the edge's latency while versions keep coming.

    python -m benchmarks.graph_publish [--campaigns 10000] [--rate 500] [--seconds 10]
                                       [--changes 10] [--json]

Steps, on a local stack of its own (Valkey, tansu) under a temporary directory:
1. `turnout graph validate FILE` and `turnout graph publish FILE` of the generated YAML
   (benchmarks.big_graph), each a fresh process pinned to core 1: wall and CPU seconds,
   peak RSS; and the publish again on both cores (`publish_two_cores`), where the compile
   check forks half its campaigns onto the other core.
2. `turnout edge` (pinned to core 1) on that store: seconds from start to serving the
   graph, and its RSS once loaded.
3. `--changes` times: one campaign's weights changed and published in-process (as the
   control plane does); the publisher's own seconds, and the seconds from the new
   `current` pointer to the edge answering /readyz with that version.
4. A light paced load (`--rate` requests/s of /c/{code} over 8 keep-alive connections,
   from this process on core 0) for `--seconds`, first with no publishes, then with a
   one-campaign publish every 2 s by a forked child (core 0 too; in this process its
   seconds of validation would stall the load's loop) under a prefix the edge does not
   follow (the control: the publisher's own load), then under the edge's own prefix
   (`publishing_every_2s`): p50/p99/max latency (send to last
   byte) of each, their ratio, and how many sends were over 1 ms late (the client itself
   falling behind; the edge answers a connection's next request only after its last, so
   a stalled edge shows as latency, and a saturated client as late sends).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import msgspec

from turnout.config.io import load_graph
from turnout.config.model import Graph
from turnout.local.services import free_port, local_stack, stop_process

TURNOUT = [sys.executable, "-m", "turnout.cli"]
PUBLISH_EVERY_S = 2.0
PREFIX = "bench"  # the edge's graph prefix


def _timed(argv: list[str], env: dict[str, str]) -> dict[str, float]:
    """Run a command to its end: wall and CPU seconds and peak RSS of that process alone."""
    started = time.perf_counter()
    process = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited with {process.returncode}")
    return {"wall_s": round(time.perf_counter() - started, 2),
            "cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
            "peak_rss_mb": round(usage.ru_maxrss / 1024, 1)}


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def _changed(graph: Graph, rng: random.Random) -> Graph:
    """The graph with one campaign's rule weights redrawn."""
    index = rng.randrange(len(graph.campaigns))
    campaign = graph.campaigns[index]
    rules = tuple(
        msgspec.structs.replace(rule, destinations=tuple(
            msgspec.structs.replace(d, weight=rng.randrange(1, 100)) for d in rule.destinations))
        for rule in campaign.rules)
    campaigns = list(graph.campaigns)
    campaigns[index] = msgspec.structs.replace(campaign, rules=rules)
    return msgspec.structs.replace(graph, campaigns=tuple(campaigns))


async def _readyz(port: int) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(b"GET /readyz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
        body = await reader.read()
    finally:
        writer.close()
    text = body.decode(errors="replace")
    return int(text.rsplit("graph version", 1)[1].strip()) if "graph version" in text else 0


async def _served(port: int, version: int, timeout: float = 60.0) -> float:
    """Seconds until the edge answers /readyz with `version` (or a later one)."""
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        try:
            if await _readyz(port) >= version:
                return time.perf_counter() - started
        except OSError:  # not listening yet
            pass
        await asyncio.sleep(0.005)
    raise TimeoutError(f"the edge did not serve version {version} in {timeout} s")


class PacedLoad:
    """`rate` GETs per second over keep-alive connections, each timed send to last byte."""

    def __init__(self, port: int, codes: list[str], rate: float, connections: int = 8) -> None:
        self.port, self.codes, self.rate, self.connections = port, codes, rate, connections
        self.latencies: list[float] = []
        self.late = 0

    async def run(self, seconds: float) -> list[float]:
        self.latencies, self.late = [], 0
        start = time.perf_counter() + 0.05
        await asyncio.gather(*(self._connection(i, start, seconds)
                               for i in range(self.connections)))
        return self.latencies

    async def _connection(self, index: int, start: float, seconds: float) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        interval = self.connections / self.rate
        due = start + index * interval / self.connections
        sent = 0
        try:
            while due < start + seconds:
                wait = due - time.perf_counter()
                if wait > 0:
                    await asyncio.sleep(wait)
                code = self.codes[(index + sent * self.connections) % len(self.codes)]
                began = time.perf_counter()
                if began - due > 0.001:
                    self.late += 1  # this client fell behind: the figures say so
                writer.write(f"GET /c/{code}?sub1=s HTTP/1.1\r\nhost: bench\r\n"
                             f"x-forwarded-for: 214.78.0.{sent % 250 + 1}\r\n\r\n".encode())
                await _read_response(reader)
                self.latencies.append(time.perf_counter() - began)
                sent += 1
                due += interval
        finally:
            writer.close()


async def _read_response(reader: asyncio.StreamReader) -> None:
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    if length:
        await reader.readexactly(length)


def _summary(latencies: list[float]) -> dict[str, float]:
    ordered = sorted(latencies)

    def at(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 3)

    return {"requests": len(ordered), "p50_ms": at(0.5), "p99_ms": at(0.99),
            "max_ms": round(ordered[-1] * 1000, 3)}


@contextmanager
def _edge(env: dict[str, str], port: int) -> Iterator[subprocess.Popen[bytes]]:
    argv = ["taskset", "-c", "1", *TURNOUT, "edge", "--port", str(port)]
    log = open(Path(env["TURNOUT_DATA_DIR"]) / "edge.log", "wb")  # noqa: SIM115
    process = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        yield process
    finally:
        stop_process(process, 10)
        log.close()


def _publish_every(redis_url: str, graph: Graph, seed: float, prefix: str = PREFIX) -> None:
    """A forked child's work: a one-campaign change published (under `prefix`) every
    PUBLISH_EVERY_S seconds until the process is terminated."""
    import redis.asyncio as aioredis

    from turnout.config.store import GraphStore

    # Below the load generator, which shares core 0: its sends must not wait for the
    # publisher's seconds of validation (the scheduler would make them wait up to ~0.1 s).
    os.nice(19)

    async def publishing() -> None:
        rng = random.Random(seed)
        store = GraphStore(aioredis.from_url(redis_url), prefix)
        changed = graph
        while True:
            await asyncio.sleep(PUBLISH_EVERY_S)
            changed = _changed(changed, rng)
            await store.publish(changed, note="benchmark under load")

    asyncio.run(publishing())


async def _run(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    import redis.asyncio as aioredis

    from turnout.config.store import GraphStore

    # Generated in a child: this process stays small, so the commands it starts report
    # their own peak RSS (a child's ru_maxrss starts from its parent's size at the fork).
    file = work / "graph.yaml"
    subprocess.run([sys.executable, "-m", "benchmarks.big_graph", "--campaigns",
                    str(args.campaigns), "--out", str(file)], check=True,
                   stdout=subprocess.DEVNULL)
    result: dict[str, Any] = {"campaigns": args.campaigns,
                              "yaml_mb": round(file.stat().st_size / 1e6, 1)}
    with local_stack(work / "stack") as stack:
        env = {**os.environ, **stack.environ(), "TURNOUT_GRAPH_PREFIX": PREFIX,
               "TURNOUT_EDGE_SIGNING_KEY": "benchmark-signing-key-0123456789"}
        pin = ["taskset", "-c", "1"]
        result["validate"] = _timed([*pin, *TURNOUT, "graph", "validate", str(file)], env)
        result["publish"] = _timed([*pin, *TURNOUT, "graph", "publish", str(file),
                                    "--prefix", PREFIX], env)
        # Both cores, as a publisher runs on an idle machine: the compile check's forked
        # half takes the other one (its CPU is counted too). Another prefix: a new graph.
        result["publish_two_cores"] = _timed(
            ["taskset", "-c", "0,1", *TURNOUT, "graph", "publish", str(file),
             "--prefix", "bench-cores"], env)
        graph = load_graph(file)
        port = free_port()
        redis = aioredis.from_url(stack.redis_url)
        store = GraphStore(redis, PREFIX)
        try:
            with _edge(env, port) as edge:
                started = time.perf_counter()
                await _served(port, 1, timeout=120)
                result["edge_first_load_s"] = round(time.perf_counter() - started, 2)
                await asyncio.sleep(1)
                result["edge_rss_mb"] = _rss_mb(edge.pid)
                rng = random.Random(7)
                publish_s, served_s = [], []
                for _ in range(args.changes):
                    graph = _changed(graph, rng)
                    began = time.perf_counter()
                    version = await store.publish(graph, note="benchmark change")
                    publish_s.append(time.perf_counter() - began)
                    served_s.append(await _served(port, version))
                result["change"] = {
                    "publisher_s_median": round(statistics.median(publish_s), 3),
                    "publisher_s_max": round(max(publish_s), 3),
                    "pointer_to_served_s_median": round(statistics.median(served_s), 3),
                    "pointer_to_served_s_max": round(max(served_s), 3),
                }
                result["edge_rss_after_changes_mb"] = _rss_mb(edge.pid)
                codes = [c.code for c in graph.campaigns if c.status == "active"][:500]
                load = PacedLoad(port, codes, args.rate)
                quiet = _summary(await load.run(args.seconds))
                quiet["late_sends"] = load.late

                # The publisher is a process of its own, as the control plane is: in
                # this one its seconds of validation would stall the load's own loop and
                # show as the edge's latency. Once publishing where the edge does not look
                # (the control: what the publisher's own work costs the measurement), then
                # where it does.
                runs = {}
                for name, prefix in (("publishing_elsewhere", "bench-elsewhere"),
                                     ("publishing_every_2s", PREFIX)):
                    publisher = multiprocessing.get_context("fork").Process(
                        target=_publish_every,
                        args=(stack.redis_url, graph, rng.random(), prefix), daemon=True)
                    publisher.start()
                    try:
                        runs[name] = _summary(await load.run(args.seconds))
                    finally:
                        publisher.terminate()
                        publisher.join()
                    runs[name]["late_sends"] = load.late
                busy = runs["publishing_every_2s"]
                result["paced"] = {
                    "rate": args.rate, "quiet": quiet, **runs,
                    "p99_ratio": round(busy["p99_ms"] / quiet["p99_ms"], 2),
                    "p99_ratio_to_control": round(
                        busy["p99_ms"] / runs["publishing_elsewhere"]["p99_ms"], 2),
                }
                result["edge_rss_end_mb"] = _rss_mb(edge.pid)
        finally:
            await redis.aclose()
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.graph_publish",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--campaigns", type=int, default=10_000)
    parser.add_argument("--rate", type=float, default=500.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--changes", type=int, default=10)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    os.sched_setaffinity(0, {0})  # the load generator and publisher on core 0
    with tempfile.TemporaryDirectory(prefix="turnout-graph-publish-") as work:
        result = asyncio.run(_run(args, Path(work)))
    if args.json:
        print(json.dumps(result))
    else:
        print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
