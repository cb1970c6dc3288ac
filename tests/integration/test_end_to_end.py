"""End to end on real services: `turnout simulate` traffic through a real `turnout edge`,
tansu, the ingest consumers and chdb; every report number, through the report API and
through `turnout report`, must equal the simulator's ground truth."""

from __future__ import annotations

import asyncio
import os
import sys
import time
import uuid
from pathlib import Path

import clickhouse_connect
import httpx
import orjson
import pytest

from tests.integration.e2e_support import (
    METRICS,
    caught_up,
    comparable,
    csv_rows,
    differences,
    example_in_workspace,
    ingest_counts,
    report_api,
)
from tests.integration.edge_support import ROOT, EdgeProcess, publish
from tests.integration.ingest_support import ingesting, make_database, settings_for
from turnout.cli.simulate import rates_of
from turnout.config import examples
from turnout.config.compile import compile_graph
from turnout.events import TOPIC_CLICKS, TOPIC_CONVERSIONS, TOPIC_DLQ, TOPIC_EVENTS
from turnout.ingest.consumer import clickhouse_factory
from turnout.local.services import LocalStack
from turnout.reports.fx_store import import_rates
from turnout.simulate.driver import simulate
from turnout.simulate.plan import Mix

pytestmark = pytest.mark.slow

# Enough for every kind of event the truth is asserted to hold (repeat visitors, bots,
# lander clicks, converted money) by the hundred: 5,000 clicks had 495 bots, 664 lander
# clicks and 233 conversions; 20,000 cost 20 s more of clicking on a 2-core box and
# proved no more. Larger runs: the variables.
CLICKS = int(os.environ.get("TURNOUT_E2E_CLICKS", "5000"))
POSTBACKS = int(os.environ.get("TURNOUT_E2E_POSTBACKS", "500"))
TOKEN = "tok_end_to_end_reports"
GROUP_BY = "campaign,country,device"
# Fewer follow-up requests than the command's default mix: the 2-core box spends its time
# on campaign clicks and postbacks, which are what the reports count.
MIX = Mix(hop=0.25, lp_click=0.15)


async def _cli_report(api: str, workspace: str, form: str) -> str:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "turnout.cli.main", "report", "--workspace", workspace,
        "--group-by", GROUP_BY, "--metrics", ",".join(METRICS), "--from", "all",
        "--limit", "100000", "--format", form, "--api", api, "--key", TOKEN,
        cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={k: v for k, v in os.environ.items() if not k.startswith("TURNOUT_")},
    )
    out, err = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode == 0, err.decode()
    return out.decode()


@pytest.mark.timeout(280)
async def test_reports_equal_the_simulated_ground_truth(
        stack: LocalStack, clickhouse_dsn: str, tmp_path: Path) -> None:
    workspace = f"e2e_{uuid.uuid4().hex[:8]}"
    graph = example_in_workspace(workspace)
    edge = EdgeProcess(stack, tmp_path / "edge")
    version, _ = await publish(stack.redis_url, edge.prefix, graph)
    await asyncio.to_thread(edge.start)
    database = await asyncio.to_thread(make_database, clickhouse_dsn)
    # The example offers pay in USD in the EUR workspace: the rates `turnout dev` imports,
    # imported here and given to the truth (`turnout simulate --fx-rates`'s default).
    rates = rates_of(examples.FX_RATES)
    assert rates is not None
    rates_client = clickhouse_connect.get_client(dsn=clickhouse_dsn)
    rates_client.database = database
    await asyncio.to_thread(import_rates, rates_client, rates, "end-to-end")
    topics = {"clicks": TOPIC_CLICKS, "conversions": TOPIC_CONVERSIONS,
              "events": TOPIC_EVENTS, "dlq": TOPIC_DLQ}
    # The grace is long enough for a click to be stored before its conversion gives up on
    # it, and short enough that the orphan postbacks are written within the test.
    settings = settings_for(database, topics, batch_size=5000, batch_wait_s=0.5,
                            attribution_grace_s=10.0)
    timings: dict[str, float] = {}
    try:
        async with ingesting(stack.kafka_bootstrap, clickhouse_factory(clickhouse_dsn),
                             settings, ("clicks", "conversions")) as running:
            started = time.monotonic()
            result = await simulate(edge.base_url, compile_graph(graph, version),
                                    clicks=CLICKS, postbacks=POSTBACKS, seed=20240601,
                                    concurrency=16, mix=MIX, rates=rates)
            timings["simulate"] = time.monotonic() - started
            assert result.outcome.anomalies == [], result.outcome.anomalies[:20]
            counted = [c for c in result.ledger.clicks if not c.is_bot]
            # Every campaign click was counted (bots under any bot policy included): the
            # example graph always has a destination, so nothing fell back.
            assert len(result.ledger.clicks) == CLICKS
            assert sum(len(h) for h in result.ledger.conversions.values()) >= POSTBACKS * 0.8
            expected = result.expected_ingest()[workspace]

            def ingest_alive() -> None:
                if running.task.done():
                    running.task.result()
                    raise AssertionError("ingest stopped early")

            timings["ingest_lag"] = await caught_up(
                ingest_counts(clickhouse_dsn, database, workspace), expected, 120,
                ingest_alive)
    finally:
        edge.stop()
    truth = comparable(result.summary()["rows"])
    assert sum(row["clicks"] for row in truth.values()) == len(counted)
    # The truth itself must exercise what it claims to: repeat visitors, bots, money.
    totals = {name: sum(row[name] for row in truth.values()) for name in
              ("clicks", "unique_clicks", "bot_clicks", "lp_clicks", "conversions")}
    assert totals["unique_clicks"] < totals["clicks"] and totals["bot_clicks"] > 0
    assert totals["conversions"] > 0 and totals["lp_clicks"] > 0
    # Converted money was in it, and none of it held (the rates cover the run's day).
    assert any(h[-1].currency == "USD" for h in result.ledger.conversions.values())
    assert not any(row.held_conversions for row in result.rows)

    async with report_api(clickhouse_dsn, database, stack.redis_url, edge.prefix, workspace,
                          TOKEN) as api:
        started = time.monotonic()
        async with httpx.AsyncClient(timeout=120) as http:
            response = await http.get(f"{api}/api/v1/report", params={
                "group_by": GROUP_BY, "metrics": ",".join(METRICS), "from": "all",
                "limit": "100000"}, headers={"Authorization": f"Bearer {TOKEN}"})
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["currency"] == "EUR" and body["workspace"] == workspace
        problems = differences(comparable(body["rows"]), truth)
        assert not problems, "\n".join(problems)
        timings["api"] = time.monotonic() - started

        started = time.monotonic()
        as_json, as_csv = await asyncio.gather(_cli_report(api, workspace, "json"),
                                               _cli_report(api, workspace, "csv"))
        timings["cli"] = time.monotonic() - started
    for rows in (orjson.loads(as_json)["rows"], csv_rows(as_csv)):
        problems = differences(comparable(rows), truth)
        assert not problems, "\n".join(problems)
    clickhouse_connect.get_client(dsn=clickhouse_dsn).command(
        f"DROP DATABASE IF EXISTS {database}")
    print(f"\nend to end: {len(result.ledger.clicks)} counted clicks, {totals}, "
          f"requests {dict(result.outcome.requests)}, seconds "
          f"{ {k: round(v, 1) for k, v in {**result.outcome.seconds, **timings}.items()} }")


async def test_simulate_command_against_a_real_edge(stack: LocalStack, tmp_path: Path) -> None:
    """`turnout simulate` as a user runs it: the published graph from Redis, JSON out."""
    edge = EdgeProcess(stack, tmp_path / "edge")
    await publish(stack.redis_url, edge.prefix, example_in_workspace("sim_cli"))
    await asyncio.to_thread(edge.start)
    out = tmp_path / "truth.json"
    try:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "turnout.cli.main", "simulate", "--edge", edge.base_url,
            "--clicks", "300", "--postbacks", "40", "--seed", "3", "--json", str(out),
            cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            env={**os.environ, **stack.environ(), "TURNOUT_GRAPH_PREFIX": edge.prefix})
        stdout, stderr = await asyncio.wait_for(process.communicate(), 120)
    finally:
        edge.stop()
    assert process.returncode == 0, stderr.decode()
    summary = orjson.loads(out.read_bytes())
    assert summary["anomalies"] == [] and summary["requests"]["click"] == 300
    rows = summary["rows"]
    assert {row["workspace"] for row in rows} == {"sim_cli"}
    assert sum(row["clicks"] + row["bot_clicks"] for row in rows) <= 300
    assert sum(row["clicks"] for row in rows) > 200
    assert "summer-stories" in stdout.decode()  # the printed table
