"""The soak's local stack: Valkey, tansu, PostgreSQL and chdb as `turnout dev` runs them
(turnout/local/services.py), then real `turnout ingest --api --governor` and `turnout edge`
subprocesses on the example graph, each a Service the fault schedule can stop and restart
on its port.

Every child is started from the thread that builds the stack and that thread lives until
the soak ends: PR_SET_PDEATHSIG fires when the *thread* that forked a child exits, so a
child started from a short-lived worker thread would die with it.
"""

from __future__ import annotations

import asyncio
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from turnout.cli import dev_control
from turnout.config import examples
from turnout.config.io import load_graph
from turnout.config.model import Graph
from turnout.local import identity
from turnout.local.dev_setup import (
    dev_environ,
    example_network,
    import_rates,
    postback_address,
    run_once,
)
from turnout.local.services import (
    LocalStack,
    Service,
    free_port,
    http_ok,
    postgres,
    reap_stale,
    require_chdb,
    tansu,
    valkey,
)
from turnout.topics import ensure_topics

TURNOUT = [sys.executable, "-m", "turnout.cli.main"]
# A postback on a lander click waits this long for an LP click before it is written
# (ingest.lander_offers); the soak's clicks never click through, so keep it short.
ATTRIBUTION_GRACE_S = "2"
START_TIMEOUT_S = 90.0
STOP_GRACE_S = {"edge": 30.0, "ingest-api": 40.0}


@dataclass(frozen=True, slots=True)
class Target:
    """What the load needs to know: where to click and how to post back."""

    edge: str
    api: str
    code: str
    workspace: str
    token: str
    secret: str
    postback_from: str
    payout: str
    currency: str


@dataclass
class SoakStack:
    data_dir: Path
    graph_path: Path = examples.GRAPH
    services: dict[str, Service] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    target: Target | None = None

    def start(self) -> Target:
        require_chdb()
        self.data_dir = self.data_dir.resolve()
        run_dir = self.data_dir / "run"
        reap_stale(run_dir)
        graph = load_graph(self.graph_path)
        cluster = identity.kafka_cluster(self.data_dir)
        local = LocalStack(self.data_dir, valkey(self.data_dir, persist=True),
                           tansu(self.data_dir, cluster_id=cluster), postgres(self.data_dir))
        self.services = {"valkey": local.redis, "tansu": local.kafka,
                         "postgres": local.postgres}
        for service in self.services.values():
            service.start()
        asyncio.run(ensure_topics(local.kafka_bootstrap))
        # As dev: the kept cluster name and edge secret (restarted edges verify the
        # cookies earlier ones signed).
        self.env = {**dev_environ(local, cluster),
                    "TURNOUT_GOVERNOR_PORT": str(free_port()),
                    "TURNOUT_INGEST_ATTRIBUTION_GRACE_S": ATTRIBUTION_GRACE_S}
        run_once([*TURNOUT, "migrate"], self.env)
        import_rates(TURNOUT, self.env, examples.FX_RATES, run_dir)
        tokens = {w.id: dev_control.owner_key(TURNOUT, self.env, w.id)
                  for w in graph.workspaces}
        edge_port, api_port = free_port(), free_port()
        ingest = Service("ingest-api", api_port,
                         [*TURNOUT, "ingest", "--api", "--api-host", "127.0.0.1",
                          "--api-port", str(api_port), "--governor"],
                         http_ok, run_dir, env=self.env)
        edge = Service("edge", edge_port,
                       [*TURNOUT, "edge", "--host", "127.0.0.1", "--port", str(edge_port)],
                       http_ok, run_dir, env=self.env)
        self.services.update({"ingest-api": ingest, "edge": edge})
        ingest.start(timeout=START_TIMEOUT_S)
        api = f"http://127.0.0.1:{api_port}"
        dev_control.import_graph(api, tokens, graph)
        edge.start(timeout=START_TIMEOUT_S)
        self.target = _target(graph, f"http://127.0.0.1:{edge_port}", api, tokens)
        return self.target

    def pids(self) -> dict[str, int]:
        return {name: s.process.pid for name, s in self.services.items()
                if s.process is not None and s.running}

    def stop_edge(self) -> int | None:
        """SIGTERM: the edge drains and flushes its buffer into Kafka."""
        return self.services["edge"].stop(timeout=STOP_GRACE_S["edge"])

    def stop(self) -> None:
        """Everything, in dependency order (the edge first, Valkey last)."""
        for name in ("edge", "ingest-api", "postgres", "tansu", "valkey"):
            service = self.services.get(name)
            if service is not None:
                service.stop(timeout=STOP_GRACE_S.get(name, 15.0))


def _target(graph: Graph, edge: str, api: str, tokens: dict[str, str]) -> Target:
    campaign = graph.campaigns[0]
    network, currency = example_network(graph, campaign)
    offers = {o.id: o for o in graph.offers if o.network == network.id}
    payout = next((o.payout for o in offers.values() if o.payout), "1.00")
    return Target(edge=edge, api=api, code=campaign.code, workspace=campaign.workspace,
                  token=tokens[campaign.workspace], secret=network.secret or "",
                  postback_from=postback_address(network) or "", payout=str(payout),
                  currency=currency)


def report_counts(target: Target) -> tuple[int, int]:
    """(clicks, conversions) the report API counts for the soak's workspace, all time."""
    params = {"workspace": target.workspace, "group_by": "campaign", "from": "all",
              "metrics": "clicks,conversions"}
    response = httpx.get(f"{target.api}/api/v1/report", params=params, timeout=10,
                         headers={"Authorization": f"Bearer {target.token}"})
    response.raise_for_status()
    rows = response.json()["rows"]
    return sum(r["clicks"] for r in rows), sum(r["conversions"] for r in rows)


def wait_stored(target: Target, clicks: int, conversions: int, timeout: float,
                quiet_s: float = 20.0) -> tuple[int, int]:
    """Poll the report API until it counts the ledger's clicks and conversions, or its
    counts have not moved for `quiet_s`, or `timeout`; the last counts."""
    deadline = time.monotonic() + timeout
    last, moved = (-1, -1), time.monotonic()
    while True:
        try:
            counts = report_counts(target)
        except httpx.HTTPError:
            counts = last
        if counts != last:
            last, moved = counts, time.monotonic()
        now = time.monotonic()
        if (last[0] >= clicks and last[1] >= conversions) or now - moved > quiet_s \
                or now > deadline:
            return last
        time.sleep(1.0)
