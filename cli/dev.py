"""`turnout dev`: the whole local stack on embedded defaults, for a newcomer's first run.

Valkey, tansu and PostgreSQL from their wheels; the ClickHouse (chdb under the data dir)
and control-plane schemas migrated; an owner key per workspace of the example graph
(`turnout key create --bootstrap`); the ingest+API process (chdb allows one data path per
process, so ingest and the API share one); the graph imported through the admin API, which
publishes it; then the edge. Each runs under a supervisor (local/supervisor.py) that
restarts it when it dies, with backoff, and says so. Ctrl-C stops all in dependency order:
the edge (it flushes into Kafka), ingest (it stores its batch), then what ingest had not
stored is carried over into the edge's spool for the next run (tansu keeps it in memory
only: local/carry_over.py), then tansu, Valkey and PostgreSQL.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from turnout.config import examples
from turnout.connections import Connections
from turnout.local import identity
from turnout.local.dev_setup import (
    EXAMPLE_RATE_DAYS,
    dev_environ,
    example_network,
    import_rates,
    postback_address,
    run_once,
)
from turnout.local.services import (
    LocalStack,
    Service,
    ServiceError,
    free_port,
    http_ok,
    port_is_free,
    postgres,
    reap_stale,
    require_chdb,
    tansu,
    valkey,
)
from turnout.local.supervisor import Supervisor

BROWSER = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36"
EXAMPLE_GRAPH = examples.GRAPH

if TYPE_CHECKING:
    from turnout.cli.dev_control import Imported
    from turnout.config.model import Graph, Network


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("dev", help="run the whole local stack on embedded defaults")
    parser.add_argument("--graph", type=Path, default=EXAMPLE_GRAPH, help="graph to publish")
    parser.add_argument("--edge-port", type=int, default=8080,
                        help="edge port (8080; a free one when taken)")
    parser.add_argument("--api-port", type=int, default=8081,
                        help="report API port (8081; a free one when taken)")
    parser.add_argument("--governor-port", type=int, default=8082,
                        help="governor /healthz /readyz /metrics port (8082; a free one when "
                             "taken)")
    parser.add_argument("--fx-rates", type=Path, default=examples.FX_RATES,
                        help="exchange rates CSV whose rates (of its latest day) are imported "
                        f"for every day from {EXAMPLE_RATE_DAYS} days ago to "
                        f"{EXAMPLE_RATE_DAYS} ahead (default: the EXAMPLE rates, not market "
                        "data); '' imports none")
    parser.add_argument("--ingest-stop-timeout", type=float, default=40.0,
                        help="seconds ingest gets to store its batch on stop before a SIGKILL "
                             "(40); what it had not stored is carried over to the next run")
    parser.set_defaults(func=run)


def _port(preferred: int) -> int:
    """`preferred` if it is free, else any free port (0 asks for one outright)."""
    return preferred if preferred and port_is_free(preferred) else free_port()


def run(args: argparse.Namespace) -> int:
    from turnout.cli import dev_control
    from turnout.config.io import load_graph

    connections = Connections.from_env()
    stop = threading.Event()
    # The services run in their own process groups, so a Ctrl-C reaches only this process
    # and the stop below keeps its order.
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, lambda *_: stop.set())
    turnout = [sys.executable, "-m", "turnout.cli.main"]
    try:
        require_chdb()
        graph = load_graph(args.graph)
        data_dir = connections.data_dir.resolve()
        reap_stale(data_dir / "run")
        cluster = identity.kafka_cluster(data_dir)
        stack = LocalStack(data_dir, valkey(data_dir, persist=True),
                           tansu(data_dir, cluster_id=cluster), postgres(data_dir))
    except ServiceError as exc:
        print(f"turnout dev: {exc}", file=sys.stderr)
        return 1
    run_dir = data_dir / "run"
    env = dev_environ(stack, cluster)
    edge_port, api_port = _port(args.edge_port), _port(args.api_port)
    env["TURNOUT_GOVERNOR_PORT"] = str(_port(args.governor_port))
    # Stopped in this order: the edge produces into Kafka, ingest consumes it, then the
    # services nobody needs any more.
    edge = Service("edge", edge_port,
                   [*turnout, "edge", "--host", "127.0.0.1", "--port", str(edge_port)],
                   http_ok, run_dir, env=env)
    ingest = Service("ingest-api", api_port,
                     [*turnout, "ingest", "--api", "--api-host", "127.0.0.1",
                      "--api-port", str(api_port), "--governor"],
                     http_ok, run_dir, env=env)

    def supervise(service: Service, after_start: Callable[[], None] | None = None
                  ) -> Supervisor:
        return Supervisor(service, _say, stop.set, after_start=after_start)

    children = [supervise(edge), supervise(ingest)]

    def tansu_started() -> None:
        _ensure_topics(stack)
        # A restarted tansu is empty and numbers its records from 0 again: an ingest
        # still at its old positions would skip that many, so it starts over too.
        if children[1] in started:
            children[1].bounce("tansu restarted empty; ingest reads it from its start")

    services = [supervise(stack.kafka, tansu_started),
                supervise(stack.redis), supervise(stack.postgres)]
    started: list[Supervisor] = []
    code = 0
    try:
        for supervisor in services:
            supervisor.start()
            started.append(supervisor)
        run_once([*turnout, "migrate"], env)
        # argparse makes '' Path('.'): never a rates file, so it means none too.
        if args.fx_rates != Path(""):
            import_rates(turnout, env, args.fx_rates, run_dir)
        tokens = {w.id: dev_control.owner_key(turnout, env, w.id) for w in graph.workspaces}
        api = f"http://127.0.0.1:{api_port}"
        children[1].start()
        started.append(children[1])
        imported = dev_control.import_graph(api, tokens, graph)
        children[0].start()  # the graph is published: it is ready at once
        started.append(children[0])
        campaign = graph.campaigns[0]
        revision = dev_control.revision(api, tokens[campaign.workspace], campaign.id)
        _print_banner(stack, imported, edge_port, api_port, graph, tokens, revision,
                      int(env["TURNOUT_GOVERNOR_PORT"]))
        stop.wait()
        print("\nstopping…", flush=True)
    except ServiceError as exc:
        print(f"turnout dev: {exc}", file=sys.stderr)
        code = 1
    finally:
        code = _stop_all(children, services, started, stack, env, args.ingest_stop_timeout) \
            or code
    if code == 0 and any(s.gave_up for s in started):
        code = 1
    print("stopped: edge, ingest+api+governor, tansu, valkey, postgres", flush=True)
    return code


# SIGTERM to SIGKILL: the edge drains requests (TURNOUT_EDGE_DRAIN_SECONDS, 10 s) and
# flushes its buffer; ingest waits up to 30 s for the batch being stored (--ingest-stop-
# timeout); the services need little.
STOP_GRACE_S = {"edge": 30.0, "postgres": 15.0}
SERVICE_GRACE_S = 5.0


# uvicorn re-raises the SIGTERM it handled once it has shut down, so that is clean too.
CLEAN_EXITS = (0, -signal.SIGTERM)


def _say(message: str) -> None:
    print(f"turnout dev: {message}", file=sys.stderr, flush=True)


def _stop_all(children: list[Supervisor], services: list[Supervisor],
              started: list[Supervisor], stack: LocalStack, env: dict[str, str],
              ingest_timeout: float) -> int:
    """Stop the edge (it drains into tansu), then ingest (its offsets are final), carry
    what tansu still holds over to the next run, then stop tansu, Valkey and PostgreSQL:
    1 if the edge or ingest did not exit cleanly (an error exit, or a SIGKILL after its
    grace period)."""
    code = 0
    for supervisor in children:
        if supervisor not in started:
            continue
        grace = ingest_timeout if supervisor.name == "ingest-api" else STOP_GRACE_S["edge"]
        returncode = supervisor.stop(timeout=grace)
        if returncode not in (None, *CLEAN_EXITS):
            _say(f"{supervisor.name} exited with {returncode} on stop; "
                 f"see {stack.data_dir / 'run'}")
            code = 1
    kafka = services[0]
    if kafka in started and kafka.service.running:
        _carry_over(stack, env)
    for name in ("tansu", "valkey", "postgres"):
        supervisor = next(s for s in services if s.name == name)
        if supervisor in started:
            supervisor.stop(timeout=STOP_GRACE_S.get(name, SERVICE_GRACE_S))
    return code


def _ensure_topics(stack: LocalStack) -> None:
    """After each start of tansu: it starts empty (memory storage)."""
    from aiokafka.errors import KafkaError

    from turnout.topics import ensure_topics

    try:
        asyncio.run(ensure_topics(stack.kafka_bootstrap))
    except (KafkaError, OSError, TimeoutError) as exc:
        raise ServiceError(f"tansu: could not create the topics ({exc})") from None


def _carry_over(stack: LocalStack, env: dict[str, str]) -> None:
    """What ingest has not stored goes into the edge's spool for the next run's edge."""
    from aiokafka.errors import KafkaError

    from turnout.edge.sink.settings import SinkSettings
    from turnout.edge.sink.spool import ClusterTags
    from turnout.ingest.settings import IngestSettings
    from turnout.local.carry_over import carry_over

    sink = SinkSettings.from_env(env)
    tag = ClusterTags.of(sink.kafka_bootstrap, sink.kafka_cluster).own
    try:
        carried = asyncio.run(carry_over(stack.kafka_bootstrap, IngestSettings.from_env(env),
                                         sink.spool_dir, tag))
    except (KafkaError, OSError, TimeoutError) as exc:
        _say(f"could not carry tansu's events over to the next run ({exc}); they go with "
             "tansu's memory")
        return
    if carried.records:
        print(f"carried {carried.records} events ingest had not stored over to the next run "
              f"({carried.seconds:.1f} s)", flush=True)


def _cap_demo(graph: Graph, edge: str) -> list[str]:
    """How to watch an offer's daily click cap hand its traffic to its fallback."""
    capped = next((o for o in graph.offers if o.daily_click_cap and o.fallback_offer), None)
    if capped is None:
        return []
    return [
        f"  {_turnout_command()} simulate --edge {edge} --clicks 1500",
        f"  {_turnout_command()} report --workspace {capped.workspace} --group-by offer "
        "--metrics clicks,lp_clicks",
        f"      ({capped.id} takes {capped.daily_click_cap} clicks a day, then "
        f"{capped.fallback_offer} gets its traffic)",
    ]


def _print_banner(stack: LocalStack, imported: Imported, edge_port: int, api_port: int,
                  graph: Graph, tokens: dict[str, str], revision: int,
                  governor_port: int) -> None:
    edge = f"http://127.0.0.1:{edge_port}"
    api = f"http://127.0.0.1:{api_port}"
    first = graph.campaigns[0]
    network, currency = example_network(graph, first)
    workspace = first.workspace
    token = tokens[workspace]
    width = max(len(name) for name in tokens)
    state = "imported and published" if imported.fresh else "unchanged"
    lines = [
        "",
        f"turnout is running (graph version {imported.version}, {state})",
        f"  edge       {edge}        (/healthz /readyz /metrics)",
        f"  admin API  {api}        (/api/v1/campaigns /api/v1/versions ... /openapi.json)",
        f"  report API {api}        (/api/v1/report)",
        f"  dashboard  {api}/ui        (sign in with the {workspace} key below)",
        f"  governor   http://127.0.0.1:{governor_port}        (/healthz /readyz /metrics)",
        f"  postgres   {stack.postgres_url}",
        f"  valkey     {stack.redis_url}",
        f"  kafka      {stack.kafka_bootstrap} (tansu)",
        f"  clickhouse {stack.clickhouse_dsn}",
        f"  logs       {stack.data_dir / 'run'}",
        "",
        "campaign links:",
        *(f"  {edge}/c/{c.code}" for c in graph.campaigns),
        "",
        "owner keys for this run (one per workspace; shown once; admin and report APIs):",
        *(f"  {name:<{width}}  {key}" for name, key in tokens.items()),
        "",
        "try it:",
        f"  curl -si -A '{BROWSER}' -H 'X-Forwarded-For: 214.78.0.1' \\\n"
        f"       '{edge}/c/{first.code}?sub1=test' | grep -i location",
        f"  curl -s{_from_allowed(network)} '{edge}/postback?clickid=<CLICK ID FROM Location>"
        f"&payout=12.50&currency={currency}&txid=t1&secret={network.secret}'",
        f"  curl -X POST -H 'Authorization: Bearer {token}' -H 'If-Match: {revision}' \\\n"
        f"       {api}/api/v1/campaigns/{first.id}/pause",
        f"  export TURNOUT_API_URL={api} TURNOUT_API_KEY={token}",
        f"  {_turnout_command()} report --workspace {workspace} --group-by campaign,country",
        f"  {_turnout_command()} campaign list",
        *_cap_demo(graph, edge),
        "",
        "Ctrl-C stops everything.",
    ]
    print("\n".join(lines), flush=True)


def _from_allowed(network: Network) -> str:
    """The curl option that makes the postback come from the network's allowlist."""
    address = postback_address(network)
    return "" if address is None else f" -H 'X-Forwarded-For: {address}'"


def _turnout_command() -> str:
    """How to call `turnout` from here: this install's script, relative when it is below."""
    script = Path(sys.executable).parent / "turnout"
    if not script.exists():
        return "turnout"
    try:
        return str(script.relative_to(Path.cwd()))
    except ValueError:
        return str(script)
