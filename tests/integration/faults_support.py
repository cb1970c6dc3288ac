"""Machinery of the fault tests: a real `turnout ingest` process on a private chdb, paced
clicks through a real edge with a ledger of what it accepted, recovery clocks, and exact
per-id counts of what ClickHouse stored.

chdb allows one data path per process and the test process holds the session's: the
ingest child writes a chdb path of its own, and it is read (by a short child process) only
once that ingest has stopped. While it runs, progress is watched through Kafka: the
consumer groups' committed offsets against the high watermarks (turnout.local.ingest_lag).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from tests.integration.e2e_support import example_in_workspace
from tests.integration.edge_support import (
    DESKTOP,
    IPS,
    MOBILE,
    ROOT,
    EdgeProcess,
    click_id_in,
    publish,
)
from turnout.events import TOPIC_CLICKS
from turnout.ingest.settings import IngestSettings
from turnout.local.ingest_lag import wait_ingested
from turnout.local.services import LocalStack, die_with_parent, stop_process

DATABASE = "turnout"
# Lowered for the tests so a restarted ingest gets its partitions back in a few seconds
# (the SIGKILLed member's session must expire first).
SESSION_TIMEOUT_MS = 3000
HEARTBEAT_MS = 500


@dataclass
class IngestProcess:
    """`python -m turnout.cli.main ingest` against the session's broker, its own consumer
    group and its own chdb data path."""

    stack: LocalStack
    workdir: Path
    group: str = field(default_factory=lambda: f"faults-{uuid.uuid4().hex[:8]}")
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0

    @property
    def chdb_path(self) -> Path:
        return self.workdir / "chdb"

    @property
    def log_path(self) -> Path:
        return self.workdir / "ingest.log"

    @property
    def settings(self) -> IngestSettings:
        return replace(IngestSettings(), group_id=self.group)

    def environ(self) -> dict[str, str]:
        return {
            **os.environ,
            **self.stack.environ(),
            "TURNOUT_CLICKHOUSE_DSN": f"chdb://{self.chdb_path}",
            "TURNOUT_INGEST_GROUP": self.group,
            "TURNOUT_INGEST_SESSION_TIMEOUT_MS": str(SESSION_TIMEOUT_MS),
            "TURNOUT_INGEST_HEARTBEAT_INTERVAL_MS": str(HEARTBEAT_MS),
            "TURNOUT_INGEST_BATCH_WAIT_S": "0.3",
            "TURNOUT_INGEST_RETRY_MAX_S": "0.5",
            # CAMP_A's clicks go to a lander: their conversions wait this long for an LP
            # click (the load sends none), pinning the conversions' offsets meanwhile.
            "TURNOUT_INGEST_ATTRIBUTION_GRACE_S": "1.5",
            "TURNOUT_GRAPH_PREFIX": f"faults-names-{self.group}",
        }

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.starts += 1
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "turnout.cli.main", "ingest"],
                env=self.environ(), cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                preexec_fn=die_with_parent,
            )

    def kill(self) -> None:
        """SIGKILL: no drain, no commit of the batch in flight."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)
        self.process = None

    def stop(self) -> int | None:
        process, self.process = self.process, None
        return None if process is None else stop_process(process, 30)

    def check(self) -> None:
        if self.process is not None and self.process.poll() is not None:
            raise AssertionError(f"ingest exited {self.process.returncode}: {self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]

    async def committed_clicks(self) -> int:
        """The sum of the clicks group's committed offsets (what it has stored for sure)."""
        bootstrap = self.stack.kafka_bootstrap
        metadata = AIOKafkaConsumer(bootstrap_servers=bootstrap)
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await metadata.start()
        await admin.start()
        try:
            await metadata.topics()
            partitions = [TopicPartition(TOPIC_CLICKS, p)
                          for p in metadata.partitions_for_topic(TOPIC_CLICKS) or ()]
            # tansu cannot answer an OffsetFetch for all of a group's partitions: name them.
            offsets = await admin.list_consumer_group_offsets(
                f"{self.group}.{TOPIC_CLICKS}", partitions=partitions)
        finally:
            await admin.close()
            await metadata.stop()
        return sum(max(0, done.offset) for done in offsets.values())

    async def keeping_up(self, past: int, within: int, timeout: float = 60.0) -> float:
        """Poll until the clicks group has committed past `past` and is fewer than `within`
        records behind: a (re)started ingest is consuming again; seconds taken."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            self.check()
            if await self.committed_clicks() > past:
                behind = await wait_ingested(self.stack.kafka_bootstrap, self.settings, 0)
                if behind < within:
                    return time.monotonic() - started
            await asyncio.sleep(0.1)
        raise AssertionError(f"ingest not keeping up after {timeout}s: {self.log()}")

    async def caught_up(self, timeout: float) -> float:
        """Poll until its groups have committed every record in the topics; seconds taken."""
        started = time.monotonic()
        behind = -1
        while time.monotonic() - started < timeout:
            self.check()
            behind = await wait_ingested(self.stack.kafka_bootstrap, self.settings, 0)
            if behind == 0:
                return time.monotonic() - started
            await asyncio.sleep(0.2)
        raise AssertionError(f"ingest {behind} records behind after {timeout}s: {self.log()}")


@contextlib.contextmanager
def clickhouse_unwritable(ingest: IngestProcess) -> Iterator[None]:
    """ClickHouse refuses every write of `ingest` until the block ends: its chdb tables'
    folders immutable (chattr +i, as root). chdb runs inside ingest, so there is no server
    process of its own to stop, and no ClickHouse server binary on the machine to run."""
    store = ingest.chdb_path / "store"
    subprocess.run(["chattr", "-R", "+i", str(store)], check=True, capture_output=True)
    try:
        yield
    finally:
        subprocess.run(["chattr", "-R", "-i", str(store)], check=True, capture_output=True)


@dataclass
class Ledger:
    """What the edge accepted: the click id of every redirect, the conversion id of every
    accepted postback, once per answer."""

    accepted: list[str] = field(default_factory=list)
    conversions: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)

    @property
    def ids(self) -> set[str]:
        return set(self.accepted)


# The example graph's network without an address allowlist, and one of its statuses.
POSTBACK = "/postback?clickid={click}&secret=beta-postback-secret-02&status=sale&payout=1.25" \
    "&txid=T{n}"
CONVERT_EVERY = 4  # clicks per postback


async def paced_clicks(edge: EdgeProcess, ledger: Ledger, rate: float, seconds: float,
                       stop: asyncio.Event | None = None) -> None:
    """`rate` clicks a second on CAMP_A for `seconds` (or until `stop`), a postback after
    every CONVERT_EVERY-th accepted click; each answer recorded: a 302's click id and an
    accepted postback's conversion id in the ledger, anything else (a refused connection of
    a stopped edge included) as refused."""
    ips = list(IPS)
    pending: set[asyncio.Task[None]] = set()
    async with httpx.AsyncClient(base_url=edge.base_url, follow_redirects=False,
                                 timeout=15) as http:

        async def one(n: int) -> None:
            headers = {"x-forwarded-for": ips[n % len(ips)],
                       "user-agent": (MOBILE, DESKTOP)[n % 2]}
            try:
                response = await http.get(f"/c/CAMP_A?zoneid=z{n % 7}", headers=headers)
            except httpx.HTTPError as exc:
                ledger.refused.append(type(exc).__name__)
                return
            if response.status_code != 302:
                ledger.refused.append(str(response.status_code))
                return
            click = click_id_in(response.headers["location"])
            ledger.accepted.append(click)
            if n % CONVERT_EVERY:
                return
            try:
                answer = await http.get(POSTBACK.format(click=click, n=n))
            except httpx.HTTPError as exc:
                ledger.refused.append(f"postback {type(exc).__name__}")
                return
            if answer.status_code == 200:
                ledger.conversions.append(answer.json()["conversion_id"])
            else:
                ledger.refused.append(f"postback {answer.status_code}")

        started = time.monotonic()
        n = 0
        while time.monotonic() - started < seconds and not (stop and stop.is_set()):
            task = asyncio.create_task(one(n))
            pending.add(task)
            task.add_done_callback(pending.discard)
            n += 1
            await asyncio.sleep(max(0.0, started + n / rate - time.monotonic()))
        await asyncio.gather(*pending)


@contextlib.asynccontextmanager
async def faults_edge(stack: LocalStack, workdir: Path, workspace: str
                      ) -> AsyncIterator[EdgeProcess]:
    """A real edge serving the example graph renamed into `workspace`."""
    edge = EdgeProcess(stack, workdir)
    edge.version, edge.graph = await publish(stack.redis_url, edge.prefix,
                                             example_in_workspace(workspace))
    edge.start()
    try:
        yield edge
    finally:
        edge.stop()


async def sink_drained(edge: EdgeProcess, timeout: float = 30.0) -> float:
    """Poll the edge's /metrics until nothing is buffered or spooled; seconds taken."""
    started = time.monotonic()
    async with httpx.AsyncClient(base_url=edge.base_url, timeout=5) as http:
        while time.monotonic() - started < timeout:
            with contextlib.suppress(httpx.HTTPError):
                text = (await http.get("/metrics")).text
                values = {line.split()[0]: float(line.split()[1]) for line in text.splitlines()
                          if line.startswith(("turnout_sink_buffer_depth ",
                                              "turnout_sink_spool_events_pending "))}
                if len(values) == 2 and not any(values.values()):
                    return time.monotonic() - started
            await asyncio.sleep(0.1)
    raise AssertionError(f"edge sink not drained after {timeout}s")


_COUNT = """
import json, sys
import clickhouse_connect
path, database, workspace = sys.argv[1:4]
client = clickhouse_connect.get_client(dsn=f"chdb://{path}", database=database)
p = {"w": workspace}
out = {}
rows, unique = client.query(
    "SELECT count(), uniqExact(click_id) FROM clicks WHERE workspace_id = {w:String}",
    parameters=p).result_rows[0]
out["clicks"] = {"rows": int(rows), "unique": int(unique)}
# A conversion held when ingest dies is stored again after the restart, collapsed by
# ReplacingMergeTree (same key and version): reports read conversions FINAL, so do we.
raw, rows, unique = client.query(
    "SELECT (SELECT count() FROM conversions WHERE workspace_id = {w:String}), count(),"
    " uniqExact(conversion_id) FROM conversions FINAL WHERE workspace_id = {w:String}",
    parameters=p).result_rows[0]
out["conversions"] = {"raw_rows": int(raw), "rows": int(rows), "unique": int(unique)}
for table in ("clicks_geo", "clicks_wide"):
    out[table] = {"clicks": int(client.query(
        f"SELECT sum(clicks) FROM {table} WHERE workspace_id = {{w:String}}",
        parameters=p).result_rows[0][0] or 0)}
out["click_ids"] = sorted(r[0] for r in client.query(
    "SELECT DISTINCT click_id FROM clicks WHERE workspace_id = {w:String}",
    parameters=p).result_rows)
out["conversion_ids"] = sorted(r[0] for r in client.query(
    "SELECT DISTINCT conversion_id FROM conversions WHERE workspace_id = {w:String}",
    parameters=p).result_rows)
print(json.dumps(out))
"""


@dataclass(frozen=True)
class Stored:
    """Exact counts of one workspace in a stopped ingest's chdb."""

    counts: dict[str, dict[str, int]]
    click_ids: set[str]
    conversion_ids: set[str]

    def lost_and_duplicated(self, ledger: Ledger) -> tuple[int, int]:
        """Accepted clicks and conversions not stored, and those stored twice (the click
        rollups' surplus over the accepted clicks counted as duplicates)."""
        clicks, conversions = self.counts["clicks"], self.counts["conversions"]
        lost = len(ledger.ids - self.click_ids)
        lost += len(set(ledger.conversions) - self.conversion_ids)
        duplicated = clicks["rows"] - clicks["unique"]
        duplicated += conversions["rows"] - conversions["unique"]
        for rollup in ("clicks_geo", "clicks_wide"):
            duplicated += max(0, self.counts[rollup]["clicks"] - clicks["unique"])
        return lost, duplicated

    def assert_exact(self, ledger: Ledger) -> None:
        """Zero lost, zero duplicated clicks and conversions against the ledger, the click
        rollups included."""
        accepted, converted = ledger.ids, set(ledger.conversions)
        assert len(accepted) == len(ledger.accepted), "the edge gave one click id twice"
        assert len(converted) == len(ledger.conversions), "one conversion id given twice"
        assert self.lost_and_duplicated(ledger) == (0, 0), (self.counts, len(accepted))
        assert self.click_ids == accepted, "stored clicks the edge never accepted"
        assert self.conversion_ids == converted, "stored conversions never accepted"
        for rollup in ("clicks_geo", "clicks_wide"):
            short = len(accepted) - self.counts[rollup]["clicks"]
            # Raw clicks exact but a rollup short: ingest died after the clicks part was
            # written and before the rollup parts were (the materialized views' inserts).
            assert short == 0, f"{rollup} is short of {short} stored clicks: {self.counts}"


def stored(ingest: IngestProcess, workspace: str) -> Stored:
    """Count what `ingest` (stopped) stored for `workspace`, in a child process."""
    assert ingest.process is None, "chdb: stop ingest before reading its data path"
    result = subprocess.run(
        [sys.executable, "-c", _COUNT, str(ingest.chdb_path), DATABASE, workspace],
        capture_output=True, text=True, cwd=ROOT, timeout=120, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    out = json.loads(result.stdout.strip().splitlines()[-1])
    ids = {"click_ids", "conversion_ids"}
    return Stored({k: v for k, v in out.items() if k not in ids}, set(out["click_ids"]),
                  set(out["conversion_ids"]))


def figure(name: str, ledger: Ledger, found: Stored, **seconds: float) -> None:
    """One line per fault for the report (pytest -s)."""
    lost, duplicated = found.lost_and_duplicated(ledger)
    timings = ", ".join(f"{key} {value:.2f} s" for key, value in seconds.items())
    print(f"\nFAULT {name}: {len(ledger.accepted)} clicks and "
          f"{len(ledger.conversions)} conversions accepted, {len(ledger.refused)} refused; "
          f"lost {lost}, duplicated {duplicated} (raw conversion rows before FINAL "
          f"{found.counts['conversions']['raw_rows']}); {timings}")
