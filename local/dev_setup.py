"""The steps `turnout dev` takes around its services, public so that the soak benchmark
(benchmarks/soak_stack.py) builds its stack the same way: the children's environment,
one-shot commands (`turnout migrate`, `turnout fx import`), the example exchange rates
spread around today, and where the example campaign's postbacks come from.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from turnout import env as turnout_env
from turnout.edge.settings import SECRET_VARIABLE
from turnout.local import identity
from turnout.local.services import LocalStack, ServiceError

if TYPE_CHECKING:
    from turnout.config.model import Campaign, Graph, Network

# The example rates are applied to the days from this many days ago to this many ahead.
EXAMPLE_RATE_DAYS = 60


def dev_environ(stack: LocalStack, cluster: str) -> dict[str, str]:
    """Children's environment: the stack's settings, its cluster name and the kept edge
    secret (unless one is given). Keys are the control plane's, so the deprecated
    report-only ones are left out."""
    env = {**os.environ, **stack.environ(), "TURNOUT_KAFKA_CLUSTER": cluster}
    for name in ("TURNOUT_API_KEYS", "TURNOUT_API_KEYS_FILE"):
        env.pop(name, None)
    if not turnout_env.raw("edge_secret", env):
        env[f"{SECRET_VARIABLE}_FILE"] = str(identity.edge_secret_file(stack.data_dir))
    return env


def run_once(argv: Sequence[str], env: dict[str, str]) -> None:
    """Run a one-shot command (`[python, -m, turnout.cli.main, ...]`); a ServiceError with
    its output when it fails."""
    result = subprocess.run(list(argv), env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise ServiceError(f"{' '.join(argv[2:])} failed:\n{result.stdout}{result.stderr}")


def around_today(text: str, today: dt.date, days: int = EXAMPLE_RATE_DAYS) -> str:
    """The rates CSV `text` with its latest day's rates repeated on every day from `days`
    before `today` to `days` after (validated first: a bad file fails here)."""
    from turnout.config.fx_rates import parse_csv

    rates = parse_csv(text)
    latest = [r for r in rates.rates if r.day == rates.days[-1]]
    lines = ["date,currency,rate"]
    for offset in range(-days, days + 1):
        day = (today + dt.timedelta(days=offset)).isoformat()
        lines += [f"{day},{r.currency},{r.rate}" for r in latest]
    return "\n".join(lines) + "\n"


def import_rates(turnout: Sequence[str], env: dict[str, str], source: Path,
                 run_dir: Path) -> None:
    """Rates for the days around today, straight into chdb before ingest opens it."""
    run_dir.mkdir(parents=True, exist_ok=True)
    spread = run_dir / "fx-rates.csv"
    spread.write_text(around_today(source.read_text("utf-8"), dt.datetime.now(dt.UTC).date()))
    run_once([*turnout, "fx", "import", str(spread), "--direct"], env)


def example_network(graph: Graph, campaign: Campaign) -> tuple[Network, str]:
    """The network that pays for where the campaign's default path leads (only it may
    convert those clicks: a network converting another's offer goes to the DLQ), and the
    currency that offer pays in (reports convert it into the workspace's)."""
    workspace = next(w for w in graph.workspaces if w.id == campaign.workspace)
    offers = {o.id: o for o in graph.offers}
    funnels = {f.id: f for f in graph.funnels}
    for destination in campaign.default:
        offer_ids = (destination.offers if destination.kind == "lander"
                     else funnels[destination.ref].offers if destination.kind == "funnel"
                     else (destination.ref,) if destination.kind == "offer" else ())
        for offer_id in offer_ids:
            offer = offers[offer_id]
            network = next(n for n in graph.networks if n.id == offer.network)
            return network, offer.currency or workspace.currency
    return graph.networks[0], workspace.currency


def postback_address(network: Network) -> str | None:
    """An address in the network's postback allowlist (its first block's 7th, or last),
    None when it allows any."""
    if not network.ip_allowlist:
        return None
    block = ipaddress.ip_network(network.ip_allowlist[0])
    return str(block.network_address + min(7, block.num_addresses - 1))
