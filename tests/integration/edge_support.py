"""Helpers for the edge's end-to-end tests: a real `turnout edge` process, load, Kafka reads."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import redis.asyncio as aioredis
from aiokafka import AIOKafkaConsumer

from turnout.clickid import ClickIds
from turnout.config.compile import compile_graph
from turnout.config.compiled import CompiledGraph
from turnout.config.io import load_graph
from turnout.config.meters import SEEDED, seeded_key
from turnout.config.model import Graph
from turnout.config.store import GraphStore
from turnout.events import CLICK_DECODER, TOPIC_CLICKS, Click
from turnout.local.services import LocalStack, die_with_parent, free_port, stop_process

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "config" / "examples" / "graph.yaml"
SECRET = "edge-test-signing-secret-7f3a9c"

IPS = {  # the MaxMind test databases' addresses (SPEC §2)
    "214.78.0.1": "US", "2.125.160.216": "GB", "89.160.20.113": "SE", "175.16.199.1": "CN",
    "202.196.224.1": "PH", "67.43.156.1": "BT", "2a02:d0c0::1": "RU", "2a02:d180::1": "DE",
    "2a02:d1c0::1": "IT", "2001:218::1": "JP",
}
MOBILE = ("Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) "
          "Chrome/124.0.0.0 Mobile Safari/537.36")
DESKTOP = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
           "Chrome/124.0.0.0 Safari/537.36")
BOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
DEVICES = {MOBILE: "mobile", DESKTOP: "desktop", BOT: "desktop"}
ALLOWED_HOSTS = {"lp.example.com", "quiz.example.com", "offers.alpha.example.net",
                 "go.beta.example.org", "shop.example.com", "www.example.com"}
_CID = re.compile(r"cid=([0-9A-Z]{26})")


def click_id_or_none(location: str) -> str | None:
    """The click id a redirect carries, None when it carries none."""
    match = _CID.search(location) or re.search(r"(?:sub|tid)=([0-9A-Z]{26})", location)
    return None if match is None else match.group(1)


def camp_a_load(n: int, seed: bytes) -> list[Sent]:
    """`n` clicks on CAMP_A from the test databases' addresses, both devices."""
    ids = ClickIds(seed=seed)
    ips = list(IPS)
    return [Sent(f"/c/CAMP_A?zoneid=z{i % 11}", ips[i % len(ips)], (MOBILE, DESKTOP)[i % 2],
                 ids.new(1_700_000_000_000 + i)) for i in range(n)]


@contextlib.asynccontextmanager
async def fresh_connections(base_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client that opens a new connection per request (no keep-alive): any worker may
    accept each one, and none races the edge's keep-alive timeout."""
    async with httpx.AsyncClient(base_url=base_url, timeout=10,
                                 limits=httpx.Limits(max_keepalive_connections=0)) as http:
        yield http


async def metric(client: httpx.AsyncClient, name: str) -> float | None:
    """One unlabelled sample of the edge's /metrics, None while it has none."""
    text = (await client.get("/metrics")).text
    match = re.search(rf"^{re.escape(name)} (\S+)$", text, re.MULTILINE)
    return None if match is None else float(match.group(1))


def click_id_in(location: str) -> str:
    match = _CID.search(location) or re.search(r"(?:sub|tid)=([0-9A-Z]{26})", location)
    assert match, location
    return match.group(1)


async def publish(redis_url: str, prefix: str, graph: Graph | None = None) -> tuple[int, Graph]:
    """`graph` published under `prefix`, its meter ledger marked seeded, as the governor's
    first pass would (config.meters: edges take no lease from an unseeded ledger)."""
    graph = graph or load_graph(EXAMPLE)
    client = aioredis.Redis.from_url(redis_url)
    try:
        await client.set(seeded_key(prefix), SEEDED)
        return await GraphStore(client, prefix).publish(graph), graph
    finally:
        await client.aclose()


def compiled(graph: Graph, version: int) -> CompiledGraph:
    return compile_graph(graph, version)


@dataclass
class EdgeProcess:
    """`python -m turnout.cli.main edge` on a free port against the session's stack."""

    stack: LocalStack
    workdir: Path
    prefix: str = field(default_factory=lambda: f"edge-test-{uuid.uuid4().hex[:8]}")
    extra_env: dict[str, str] = field(default_factory=dict)
    port: int = 0
    process: subprocess.Popen[bytes] | None = None
    version: int = 0  # of the graph the test published under `prefix`
    graph: Graph | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.workdir / "edge.log"

    @property
    def spool_dir(self) -> Path:
        return self.workdir / "spool"

    def environ(self) -> dict[str, str]:
        return {
            **os.environ,
            **self.stack.environ(),
            "TURNOUT_GRAPH_PREFIX": self.prefix,
            "TURNOUT_SPOOL_DIR": str(self.spool_dir),
            "TURNOUT_EDGE_TRUSTED_PROXIES": "127.0.0.1/32",
            "TURNOUT_EDGE_SECRET": SECRET,
            "TURNOUT_EDGE_DRAIN_SECONDS": "8",
            "TURNOUT_KAFKA_REQUEST_TIMEOUT_MS": "2000",
            "TURNOUT_SINK_RETRY_BACKOFF_MAX_MS": "500",
            **self.extra_env,
        }

    def start(self, timeout: float = 30.0) -> None:
        self.launch()
        self.wait_ready(timeout)

    def launch(self) -> None:
        """Start the process without waiting for it to be ready (`wait_ready`)."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = self.port or free_port()
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "turnout.cli.main", "edge", "--port", str(self.port)],
                env=self.environ(), cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                preexec_fn=die_with_parent,  # a killed pytest must not leave edges behind
            )

    def wait_ready(self, timeout: float = 30.0) -> None:
        assert self.process is not None, "launch() first"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"edge exited: {self.log_path.read_text()[-3000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.base_url}/readyz", timeout=1).status_code == 200:
                    return
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"edge not ready in {timeout}s: {self.log_path.read_text()[-3000:]}")

    def terminate(self) -> None:
        """SIGTERM only; `wait` for the exit."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)

    def wait(self, timeout: float = 30.0) -> int:
        assert self.process is not None
        return self.process.wait(timeout)

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is not None:
            stop_process(process, 30)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@contextlib.asynccontextmanager
async def running_edge(stack: LocalStack, directory: Path, extra_env: dict[str, str] | None = None
                       ) -> AsyncIterator[EdgeProcess]:
    """A real `turnout edge` serving the example graph published under its own prefix."""
    process = EdgeProcess(stack, directory, extra_env=extra_env or {})
    process.version, process.graph = await publish(stack.redis_url, process.prefix)
    process.start()
    try:
        yield process
    finally:
        process.stop()


@contextlib.asynccontextmanager
async def edge_client(edge: EdgeProcess) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=edge.base_url, follow_redirects=False,
                                 timeout=10) as http:
        yield http


@dataclass
class Sent:
    path: str
    ip: str
    ua: str
    visitor_id: str
    method: str = "GET"
    status: int = 0
    location: str = ""
    error: str = ""
    started: float = 0.0
    finished: float = 0.0


async def fire(client: httpx.AsyncClient, requests: Iterable[Sent], concurrency: int = 16
               ) -> list[Sent]:
    """Send every request (trusted X-Forwarded-For, the visitor cookie) and record answers."""
    requests = list(requests)
    queue: asyncio.Queue[Sent] = asyncio.Queue()
    for sent in requests:
        queue.put_nowait(sent)

    async def worker() -> None:
        while not queue.empty():
            sent = queue.get_nowait()
            sent.started = time.monotonic()
            headers = {"x-forwarded-for": sent.ip, "user-agent": sent.ua,
                       "cookie": f"tv={sent.visitor_id}", "accept-language": "de-DE,de;q=0.9"}
            try:
                response = await client.request(sent.method, sent.path, headers=headers)
            except httpx.HTTPError as exc:
                sent.error = f"{type(exc).__name__}: {exc}"
                continue
            sent.finished = time.monotonic()
            sent.status = response.status_code
            sent.location = response.headers.get("location", "")

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return requests


def assert_safe(sent: list[Sent]) -> None:
    for s in sent:
        assert not s.error, s.error
        assert s.status < 500, (s.path, s.status)
        if s.location:
            assert urlsplit(s.location).hostname in ALLOWED_HOSTS, s.location


async def consume_clicks(bootstrap: str, wanted: set[str], timeout: float = 60.0,
                         settle: float = 1.0, visitors: frozenset[str] = frozenset(),
                         unwanted: frozenset[str] = frozenset()) -> dict[str, list[Click]]:
    """Every click in turnout.clicks whose id is in `wanted` or `unwanted` (or whose visitor
    is in `visitors`), read from the earliest offset with a fresh group (tansu's end offsets
    cannot be trusted). Returns `settle` s after all wanted ids arrived, or at the timeout;
    `unwanted` ids are collected (to assert they are absent) but not waited for."""
    consumer = AIOKafkaConsumer(
        TOPIC_CLICKS, bootstrap_servers=bootstrap, group_id=f"edge-test-{uuid.uuid4().hex}",
        auto_offset_reset="earliest", enable_auto_commit=False,
    )
    found: dict[str, list[Click]] = {}
    await consumer.start()
    try:
        deadline = time.monotonic() + timeout
        complete_at: float | None = None
        while time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=300, max_records=5000)
            for records in batches.values():
                for record in records:
                    click = CLICK_DECODER.decode(record.value)
                    if (click.click_id in wanted or click.click_id in unwanted
                            or click.visitor_id in visitors):
                        found.setdefault(click.click_id, []).append(click)
            if wanted.issubset(found):
                complete_at = complete_at or time.monotonic()
                if time.monotonic() - complete_at >= settle:
                    break
    finally:
        await consumer.stop()
    return found
