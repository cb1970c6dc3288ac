"""The admin API with 10,000 campaigns stored: request latencies and change -> edge serving.

    python -m benchmarks.admin [--campaigns 10000] [--samples 100] [--json]

On a local stack of its own (Valkey, tansu, PostgreSQL under a temporary directory, pinned
to core 1 with the edge; `turnout api` alone on core 0, this client too):
1. benchmarks.big_graph's graph (12 workspaces) imported into PostgreSQL through the data
   layer (control.graph_write.import_graph), before any timing; `turnout api` started
   (its publisher publishes what is stored) and `turnout edge` following it.
2. With an owner key of the biggest workspace (~3,000 campaigns), `--samples` sequential
   requests each, timed send to last byte: list 1,000 campaigns, get one, create one,
   update one (merge-patch of its name), pause one. Baseline of the same run: GET
   /healthz, the HTTP round trip without auth, PostgreSQL or work.
3. `--changes` times, with nothing else pending: pause an active campaign and wait until
   the edge answers /readyz with the version that published it: the time from the request
   to the edge serving it, split at the version's published_at (API + window + publish,
   then the edge's follow and compile).

p50/p99 of each, the issue's goals (#11: p99 under a tenth of list 200 ms, get 100 ms,
create 500 ms, update 300 ms; change to served under 1 s) and whether each is met.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final

import httpx
import msgspec
import psycopg

from benchmarks.big_graph import generate
from benchmarks.graph_publish import TURNOUT, _edge, _readyz, _served, _summary
from turnout.config.model import Campaign, Graph
from turnout.control import keys
from turnout.control.graph_write import import_graph
from turnout.control.migrate import migrate
from turnout.local.services import die_with_parent, free_port, local_stack, stop_process

PREFIX: Final = "bench-admin"
GOALS_MS: Final = {"list_1000": 20.0, "get": 10.0, "create": 50.0, "update": 30.0,
                   "change_to_served": 1000.0}


def _pin(pid: int, core: int) -> None:
    with contextlib.suppress(OSError):  # one core: nothing to split
        os.sched_setaffinity(pid, {core})


@contextmanager
def _api(env: dict[str, str], port: int, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    argv = ["taskset", "-c", "0", *TURNOUT, "api", "--port", str(port)]
    with log.open("wb") as out:
        process = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT,
                                   preexec_fn=die_with_parent)
        try:
            yield process
        finally:
            stop_process(process, 20)


async def _timed(samples: int, call: Callable[[int], Awaitable[httpx.Response]],
                 ok: int = 200) -> dict[str, float]:
    latencies = []
    for i in range(samples):
        began = time.perf_counter()
        answer = await call(i)
        latencies.append(time.perf_counter() - began)
        if answer.status_code != ok:
            raise RuntimeError(f"{answer.request.method} {answer.request.url}: "
                               f"{answer.status_code} {answer.text[:300]}")
    return _summary(latencies)


async def _until(check: Callable[[], Awaitable[bool]], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        await asyncio.sleep(0.05)


def _body(campaign: Campaign, suffix: str) -> dict[str, Any]:
    body: dict[str, Any] = msgspec.to_builtins(campaign)
    body.update(id=f"{campaign.id}-{suffix}", code=f"{campaign.code}N{suffix}",
                status="draft")
    body.pop("parent", None)
    return body


async def _bench(args: argparse.Namespace, graph: Graph, url: str, env: dict[str, str],
                 work: Path) -> dict[str, Any]:
    workspace = graph.workspaces[0].id
    mine = [c for c in graph.campaigns if c.workspace == workspace]
    active = [c for c in mine if c.status == "active" and c.schedule.start is None]
    async with await psycopg.AsyncConnection.connect(url) as conn:
        _, token = await keys.create(conn, workspace_id=workspace, role="owner",
                                     name="benchmark", actor="benchmark")
    api_port, edge_port = free_port(), free_port()
    env = {**env, "TURNOUT_GRAPH_PREFIX": PREFIX, "TURNOUT_API_RATE_PER_MINUTE": "10000000",
           "TURNOUT_EDGE_SIGNING_KEY": "benchmark-signing-key-0123456789"}
    result: dict[str, Any] = {"campaigns": len(graph.campaigns), "workspace": workspace,
                              "workspace_campaigns": len(mine)}
    with _api(env, api_port, work / "api.log"):
        base = f"http://127.0.0.1:{api_port}"
        async with httpx.AsyncClient(base_url=base, timeout=120,
                                     headers={"Authorization": f"Bearer {token}"}) as http:
            started = time.perf_counter()

            async def published() -> bool:
                try:
                    page = await http.get("/api/v1/versions", params={"limit": 1})
                except httpx.HTTPError:
                    return False
                return page.status_code == 200 and page.json()["publishing"]["current"] == 1

            await _until(published, 300, "the API did not publish the stored graph")
            result["api_first_publish_s"] = round(time.perf_counter() - started, 2)
            with _edge(env, edge_port):
                await _served(edge_port, 1, timeout=300)
                samples = args.samples
                result["healthz"] = await _timed(samples, lambda i: http.get("/healthz"))
                result["list_1000"] = await _timed(
                    max(10, samples // 4),
                    lambda i: http.get("/api/v1/campaigns", params={"limit": 1000}))
                result["get"] = await _timed(
                    samples, lambda i: http.get(f"/api/v1/campaigns/{mine[i % len(mine)].id}"))
                result["create"] = await _timed(
                    samples, lambda i: http.post("/api/v1/campaigns",
                                                 json=_body(mine[i % len(mine)], f"b{i}")),
                    ok=201)
                revisions: dict[str, int] = {}

                async def update(i: int) -> httpx.Response:
                    campaign = mine[i % len(mine)]
                    revision = revisions.get(campaign.id, 1)
                    answer = await http.patch(f"/api/v1/campaigns/{campaign.id}",
                                              json={"name": f"{campaign.name} #{i}"},
                                              headers={"If-Match": f'"{revision}"'})
                    revisions[campaign.id] = int(answer.json().get("revision", 0))
                    return answer

                result["update"] = await _timed(samples, update)
                to_pause = [c for c in active if c.id not in revisions]
                result["pause"] = await _timed(
                    samples, lambda i: http.post(f"/api/v1/campaigns/{to_pause[i].id}/pause",
                                                 headers={"If-Match": '"1"'}))
                result["change"] = await _changes(http, edge_port, to_pause[samples:],
                                                  args.changes)
    result["publisher_ms"] = _publisher_phases((work / "api.log").read_text())
    result["goals_p99_ms"] = GOALS_MS
    result["goals_met"] = {
        name: result[name]["p99_ms"] < goal for name, goal in GOALS_MS.items()
        if name in result}
    result["goals_met"]["change_to_served"] = (
        result["change"]["to_served_ms"]["p99"] < GOALS_MS["change_to_served"])
    for name in ("list_1000", "get", "create", "update", "pause"):
        result[name]["p50_vs_healthz"] = round(result[name]["p50_ms"]
                                               / result["healthz"]["p50_ms"], 1)
    return result


async def _changes(http: httpx.AsyncClient, edge_port: int, campaigns: list[Campaign],
                   rounds: int) -> dict[str, Any]:
    """Pause one campaign at a time; each: request -> edge serving the version."""
    total, publish_part = [], []

    async def quiet() -> bool:
        page = (await http.get("/api/v1/versions", params={"limit": 1})).json()
        current = page["publishing"]["current"]
        return not page["publishing"]["pending"] and await _readyz(edge_port) == current

    for campaign in campaigns[:rounds]:
        await _until(quiet, 120, "the publisher and the edge did not settle")
        before = (await http.get("/api/v1/versions", params={"limit": 1})).json()
        version = before["publishing"]["current"] + 1
        started_wall, started = time.time(), time.perf_counter()
        answer = await http.post(f"/api/v1/campaigns/{campaign.id}/pause",
                                 headers={"If-Match": '"1"'})
        if answer.status_code != 200:
            raise RuntimeError(f"pause {campaign.id}: {answer.status_code} {answer.text[:300]}")
        await _served(edge_port, version, timeout=60)
        took = time.perf_counter() - started
        item = await _version_of(http, campaign.id, version)
        if item["version"] > version:  # another change took the number before it
            await _served(edge_port, item["version"], timeout=60)
            took = time.perf_counter() - started
        total.append(took)
        published = _epoch(item["published_at"]) - started_wall
        publish_part.append(published)

    def stats(values: list[float]) -> dict[str, float]:
        ordered = sorted(values)
        return {"p50": round(statistics.median(ordered) * 1000, 1),
                "p99": round(ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))] * 1000, 1),
                "max": round(ordered[-1] * 1000, 1)}

    return {"rounds": len(total), "to_served_ms": stats(total),
            "request_to_published_ms": stats(publish_part),
            "published_to_served_ms": stats([t - p for t, p in
                                             zip(total, publish_part, strict=True)])}


async def _version_of(http: httpx.AsyncClient, campaign_id: str, since: int
                      ) -> dict[str, Any]:
    """The first version from `since` on that changed the campaign (an edge can serve a
    version a moment before its record in PostgreSQL commits)."""
    for _ in range(200):
        page = (await http.get("/api/v1/versions", params={"limit": 10})).json()
        found = [i for i in page["items"] if i["version"] >= since
                 and campaign_id in i["changed"].get("campaigns", ())]
        if found:
            return min(found, key=lambda i: int(i["version"]))
        await asyncio.sleep(0.01)
    raise TimeoutError(f"no version records the change of {campaign_id}")


_PHASES: Final = re.compile(r"published \((\d+) change\(s\) gathered\) in (\d+) ms: read "
                            r"back (\d+) ms, published (\d+) ms, recorded (\d+) ms")


def _publisher_phases(log: str) -> dict[str, Any]:
    """The API's own account of each version it published (control/publisher.py logs it):
    medians and maxima of its phases, the first (whole-graph) version left out."""
    rows = [tuple(map(int, m.groups())) for m in _PHASES.finditer(log)][1:]
    if not rows:
        return {"versions": 0}
    names = ("changes_gathered", "total", "read_back", "published", "recorded")
    columns = dict(zip(names, zip(*rows, strict=True), strict=True))
    return {"versions": len(rows), **{f"{name}_p50": statistics.median(values)
                                      for name, values in columns.items()},
            **{f"{name}_max": max(values) for name, values in columns.items()}}


def _epoch(text: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


async def _import(url: str, graph: Graph) -> float:
    started = time.perf_counter()
    async with await psycopg.AsyncConnection.connect(url) as conn:
        await import_graph(conn, graph)
    return round(time.perf_counter() - started, 1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.admin",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--campaigns", type=int, default=10_000)
    parser.add_argument("--samples", type=int, default=100,
                        help="requests of each kind (list: a quarter of them)")
    parser.add_argument("--changes", type=int, default=20,
                        help="change -> edge serving rounds")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    graph = generate(args.campaigns)
    with tempfile.TemporaryDirectory() as tmp, local_stack(Path(tmp) / "stack") as stack:
        for service in (stack.postgres, stack.redis, stack.kafka):
            assert service.process is not None
            _pin(service.process.pid, 1)
        _pin(0, 0)
        env = {**os.environ, **stack.environ()}
        migrate(stack.postgres_url)
        import_s = asyncio.run(_import(stack.postgres_url, graph))
        result = asyncio.run(_bench(args, graph, stack.postgres_url, env, Path(tmp)))
        result["import_s"] = import_s
    result = {"benchmark": "admin", **result}
    if args.json:
        print(json.dumps(result))
    else:
        for name in ("healthz", "list_1000", "get", "create", "update", "pause"):
            figures = result[name]
            print(f"{name:<10} p50 {figures['p50_ms']:8.2f} ms  p99 {figures['p99_ms']:8.2f} ms")
        change = result["change"]
        print(f"change -> edge serving: p50 {change['to_served_ms']['p50']} ms, "
              f"p99 {change['to_served_ms']['p99']} ms (to published: "
              f"{change['request_to_published_ms']['p50']} ms)")
        print("goals met:", result["goals_met"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
