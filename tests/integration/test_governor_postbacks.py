"""Postbacks to traffic sources (SPEC §11) on real PostgreSQL, Valkey and chdb, with a real
receiver on 127.0.0.1: each wanted conversion is reported once with the source's payout
share, failures are retried on a backed-off schedule (time passed in, never slept
through), 4xx is final, every attempt is a row in postback_deliveries, postback_percent
leaves out the conversions its hash says, and a restarted governor sends nothing twice."""

from __future__ import annotations

import contextlib
import random
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import clickhouse_connect
import httpx
import pytest

from tests.integration.admin_support import clickhouse_database
from tests.integration.governor_support import control_with, governing, governor_settings, rows
from tests.integration.postback_support import HANG, Receiver, receiving
from tests.integration.publish_support import eventually
from tests.integration.test_api import _cli
from turnout.api.app import create_app
from turnout.api.keys import key_line, parse_keys
from turnout.api.settings import ApiSettings
from turnout.config.model import (
    Campaign,
    Destination,
    Graph,
    Network,
    Offer,
    TrafficSource,
    Workspace,
)
from turnout.config.validate import validate
from turnout.governor.postback_fill import Conversion, chosen
from turnout.governor.postback_settings import PostbackSettings
from turnout.governor.postbacks import INTERRUPTED, Postbacks, postbacks_task
from turnout.governor.service import Governor
from turnout.governor.settings import GovernorSettings
from turnout.ingest.attribution import STATUS_RANK
from turnout.reports.workspaces import GraphFacts, StaticFacts, WorkspaceFacts

T0 = 1_790_000_000_000  # the tests' "now" (2026-09-21), passed into every pass
TIMEOUT_S = 0.5
POSTBACKS = PostbackSettings(attempts=4, window_s=3_600, backoff_base_s=10, backoff_cap_s=120)
WS = "pbws"


def graph(port: int) -> Graph:
    base = f"http://127.0.0.1:{port}/pb"
    return Graph(
        workspaces=(Workspace(id=WS, name="Postbacks"),),
        traffic_sources=(
            TrafficSource(id="push", workspace=WS, name="Push",
                          postback_url=base + "?cid={external_id}&p={payout}&s={status}"
                                              "&tx={txid}&c={campaign_id}&z={sub1}",
                          postback_statuses=("pending", "approved"), payout_percent="50"),
            TrafficSource(id="half", workspace=WS, name="Half",
                          postback_url=base + "?tx={txid}&p={payout}", postback_percent="50"),
            TrafficSource(id="quiet", workspace=WS, name="No postbacks")),
        networks=(Network(id="net", workspace=WS, name="Net", secret="pb-network-secret"),),
        offers=(Offer(id="offer", workspace=WS, name="Offer", url="https://o.example.com/",
                      network="net", payout="12.5"),),
        campaigns=tuple(Campaign(id=f"camp-{s}", workspace=WS, name=s, code=f"PB_{s.upper()}",
                                 traffic_source=s, status="active",
                                 default=(Destination(id="d", kind="offer", ref="offer"),))
                        for s in ("push", "half", "quiet")),
    )


_CONVERSION_COLUMNS = ["conversion_id", "click_id", "txid", "status", "event", "payout_micros",
                       "currency", "ts", "source", "version", "attributed", "attribution",
                       "in_window", "click_ts", "click_kind", "workspace_id", "campaign_id",
                       "traffic_source_id", "external_id", "sub1"]


class Conversions:
    """Conversions written straight into the migrated chdb database, as ingest stores them."""

    def __init__(self, dsn: str, database: str) -> None:
        self.client = clickhouse_connect.get_client(dsn=dsn, database=database)

    def add(self, source: str, tx: str, status: str = "approved", *, ts_ms: int,
            payout_micros: int = 12_500_000, counted: bool = True) -> None:
        click_id = f"click-{tx}"
        self.client.insert("conversions", [[
            uuid.uuid4().hex, click_id, tx, status, "sale", payout_micros, "USD", ts_ms,
            "postback", ts_ms * 8 + STATUS_RANK[status], counted, "click_id", counted,
            ts_ms - 60_000, "click", WS, f"camp-{source}", source, f"ext-{tx}", "zone-7"]],
            column_names=_CONVERSION_COLUMNS)


@contextlib.contextmanager
def stores(clickhouse_dsn: str) -> Iterator[tuple[str, str, Conversions]]:
    with clickhouse_database(clickhouse_dsn, "gov_pb") as (dsn, database):
        yield dsn, database, Conversions(dsn, database)


@contextlib.asynccontextmanager
async def governor(settings: GovernorSettings) -> AsyncIterator[tuple[Governor, Postbacks]]:
    """A governor running only the postbacks task (fresh objects: a restart each time)."""
    task = postbacks_task(settings, POSTBACKS, random.Random(5))
    async with governing(settings, [task]) as running:
        yield running, task
        await task.settle()


async def run(pair: tuple[Governor, Postbacks], now_ms: int) -> None:
    running, task = pair
    assert await running.run_pass(now_ms=now_ms)
    await task.settle()


async def state(url: str, tx: str, status: str = "approved") -> tuple[Any, ...]:
    found = await rows(url, "SELECT state, attempts, http_status, error FROM postbacks "
                            "WHERE txid = %s AND status = %s", tx, status)
    assert len(found) == 1, found
    return found[0]


def deliveries(conversions: Conversions, tx: str) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in conversions.client.query(
        "SELECT attempt, status, outcome, http_status, error, url, traffic_source_id, "
        "campaign_id FROM postback_deliveries FINAL WHERE txid = {tx:String} "
        "ORDER BY status, attempt", parameters={"tx": tx}).result_rows]


TOKEN = "tok_postbacks"
# The delivery-rate SQL of docs/analytics.md, per source and UTC day.
DELIVERY_SQL = """
SELECT toDate(first_at, 'UTC') AS day, traffic_source_id, count() AS attempted,
       countIf(last = 'delivered') AS delivered, countIf(last = 'failed') AS failed,
       countIf(last = 'retry') AS pending, sum(tries) AS attempts
FROM (SELECT traffic_source_id, min(at) AS first_at, argMax(outcome, attempt) AS last,
             count() AS tries
      FROM postback_deliveries FINAL WHERE workspace_id = {workspace:String}
      GROUP BY traffic_source_id, click_id, txid, status)
GROUP BY day, traffic_source_id ORDER BY day, traffic_source_id
"""


async def delivery_report(dsn: str, database: str) -> list[dict[str, Any]]:
    """/api/v1/postbacks (all time, UTC), checked against `turnout report --postbacks` and
    the documented SQL: the same numbers from all three."""
    api = ApiSettings(clickhouse_dsn=dsn, database=database, pool_size=1,
                      api_keys=parse_keys(key_line(WS, TOKEN)))
    factory = lambda: clickhouse_connect.get_client(dsn=dsn, database=database)  # noqa: E731
    known = StaticFacts(GraphFacts(1, {WS: WorkspaceFacts("UTC", "USD")}))
    transport = httpx.ASGITransport(app=create_app(api, factory, known))
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as http:
        auth = {"Authorization": f"Bearer {TOKEN}"}
        answer = await http.get("/api/v1/postbacks", params={"from": "all"}, headers=auth)
        assert answer.status_code == 200, answer.text
        csv = await http.get("/api/v1/postbacks", params={"from": "all", "format": "csv"},
                             headers=auth)
    code, out = _cli(["report", "--workspace", WS, "--postbacks", "--from", "all", "--tz",
                      "UTC", "--direct", "--dsn", dsn, "--database", database,
                      "--format", "csv"])
    assert code == 0 and out == csv.text
    found = answer.json()["rows"]
    by_sql = factory().query(DELIVERY_SQL, parameters={"workspace": WS}).result_rows
    assert [(str(d), src, *n) for d, src, *n in by_sql] == [
        (r["date"], r["source"], r["attempted"], r["delivered"], r["failed"], r["pending"],
         r["attempts"]) for r in found]
    return found  # type: ignore[no-any-return]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with receiving(hang_s=3 * TIMEOUT_S) as found:
        yield found


async def test_each_wanted_conversion_is_reported_once_with_retries_and_a_restart(
        postgres_url: str, redis_url: str, clickhouse_dsn: str, receiver: Receiver) -> None:
    g = graph(receiver.port)
    assert validate(g) == []
    url = await control_with(postgres_url, g)
    receiver.script["t-flaky"] = ["500", HANG, "200"]
    receiver.script["t-gone"] = ["404"]
    receiver.script["t-down"] = ["500"] * 10
    with stores(clickhouse_dsn) as (dsn, database, conversions):
        settings = governor_settings(url, redis_url, dsn, database, http_timeout_s=TIMEOUT_S)
        for tx in ("t-ok", "t-flaky", "t-gone", "t-down"):
            conversions.add("push", tx, ts_ms=T0 - 5_000)
        conversions.add("push", "t-pend", "pending", ts_ms=T0 - 4_000)
        conversions.add("push", "t-declined", "declined", ts_ms=T0 - 4_000)  # not wanted
        conversions.add("push", "t-late", ts_ms=T0 - 4_000, counted=False)  # not attributed
        conversions.add("quiet", "t-quiet", ts_ms=T0 - 4_000)  # a source without postbacks

        async with governor(settings) as first:
            await run(first, T0)
            assert receiver.count() == {"t-ok": 1, "t-flaky": 1, "t-gone": 1, "t-down": 1,
                                        "t-pend": 1}
            assert await state(url, "t-ok") == ("delivered", 1, 200, "")
            assert await state(url, "t-gone") == ("failed", 1, 404, "HTTP 404")
            assert (await state(url, "t-flaky"))[:3] == ("pending", 1, 500)
            # 50 % of 12.5, every value of the template filled and encoded.
            assert receiver.by_tx("t-ok") == [{"cid": "ext-t-ok", "p": "6.25", "s": "approved",
                                               "tx": "t-ok", "c": "camp-push", "z": "zone-7"}]
            assert receiver.by_tx("t-pend")[0]["s"] == "pending"

            # Before its backoff (>= 5 s: half of the 10 s base) nothing is sent again.
            await run(first, T0 + 4_000)
            assert receiver.count()["t-flaky"] == 1
            # Due: the receiver hangs past the timeout, so the attempt is retried later.
            await run(first, T0 + 30_000)
            assert receiver.count()["t-flaky"] == 2
            assert (await state(url, "t-flaky"))[:3] == ("pending", 2, None)

        # A restart: new governor, new task, new connections. What was delivered stays so.
        async with governor(settings) as second:
            await run(second, T0 + 120_000)
            assert await state(url, "t-flaky") == ("delivered", 3, 200, "")
            # The pending conversion is approved now: a postback of its own, once.
            conversions.add("push", "t-pend", "approved", ts_ms=T0 + 130_000)
            await run(second, T0 + 131_000)
            await run(second, T0 + 600_000)
        # t-down answered 500 to each of its 4 attempts (10 s, 20 s, 40 s apart, less
        # jitter): then it was given up.
        assert receiver.count() == {"t-ok": 1, "t-flaky": 3, "t-gone": 1, "t-down": 4,
                                    "t-pend": 2}
        assert await state(url, "t-down") == ("failed", 4, 500, "HTTP 500")
        assert [r["s"] for r in receiver.by_tx("t-pend")] == ["pending", "approved"]
        assert await state(url, "t-pend", "pending") == ("delivered", 1, 200, "")
        assert await state(url, "t-pend", "approved") == ("delivered", 1, 200, "")
        owed = await rows(url, "SELECT txid FROM postbacks ORDER BY txid")
        assert [r[0] for r in owed] == ["t-down", "t-flaky", "t-gone", "t-ok", "t-pend",
                                        "t-pend"]

        # Every attempt is a row in ClickHouse, with its outcome.
        flaky = deliveries(conversions, "t-flaky")
        assert [(a, o, h) for a, _, o, h, *_ in flaky] == [
            (1, "retry", 500), (2, "retry", 0), (3, "delivered", 200)]
        assert flaky[1][4] == f"timeout after {TIMEOUT_S:g} s"
        assert all(r[5].startswith(f"http://127.0.0.1:{receiver.port}/pb?cid=ext-t-flaky&p=6.25")
                   and r[6:] == ("push", "camp-push") for r in flaky)
        assert [r[:5] for r in deliveries(conversions, "t-gone")] == [
            (1, "approved", "failed", 404, "HTTP 404")]
        assert [r[:3] for r in deliveries(conversions, "t-pend")] == [
            (1, "approved", "delivered"), (1, "pending", "delivered")]
        assert [r[2] for r in deliveries(conversions, "t-down")] == [
            "retry", "retry", "retry", "failed"]

        # The delivery rate: 6 postbacks (t-pend twice), 4 delivered, 2 given up.
        assert await delivery_report(dsn, database) == [{
            "date": "2026-09-21", "source": "push", "attempted": 6, "delivered": 4,
            "failed": 2, "pending": 0, "attempts": 11, "delivery_rate": "66.67"}]


async def test_postback_percent_reports_the_conversions_its_hash_picks(
        postgres_url: str, redis_url: str, clickhouse_dsn: str, receiver: Receiver) -> None:
    url = await control_with(postgres_url, graph(receiver.port))
    txs = [f"h{i:03d}" for i in range(60)]
    picked = {tx for tx in txs if chosen(Conversion(
        workspace_id=WS, traffic_source_id="half", campaign_id="camp-half",
        click_id=f"click-{tx}", txid=tx, status="approved", ts_ms=0, payout_micros=0,
        currency="USD", event="sale"), 50_000_000)}
    assert 15 < len(picked) < 45
    with stores(clickhouse_dsn) as (dsn, database, conversions):
        settings = governor_settings(url, redis_url, dsn, database, http_timeout_s=TIMEOUT_S)
        for i, tx in enumerate(txs):
            conversions.add("half", tx, ts_ms=T0 - 60_000 + i)
        async with governor(settings) as running:
            for i in range(5):  # at most 16 (concurrency) go out in one pass
                await run(running, T0 + i * 1_000)
        assert set(receiver.count()) == picked
        assert all(n == 1 for n in receiver.count().values())
        assert all(r["p"] == "12.5" for r in receiver.requests)  # payout_percent 100
        states = dict(await rows(url, "SELECT state, count(*) FROM postbacks GROUP BY state"))
        assert states == {"delivered": len(picked), "skipped": len(txs) - len(picked)}


async def test_an_attempt_cut_off_by_a_stop_is_retried_after_its_claim_expires(
        postgres_url: str, redis_url: str, clickhouse_dsn: str, receiver: Receiver) -> None:
    url = await control_with(postgres_url, graph(receiver.port))
    with stores(clickhouse_dsn) as (dsn, database, conversions):
        settings = governor_settings(url, redis_url, dsn, database, http_timeout_s=TIMEOUT_S)
        conversions.add("push", "t-cut", ts_ms=T0 - 1_000)
        task = postbacks_task(settings, POSTBACKS, random.Random(5))
        async with governing(settings, [task]) as running:
            receiver.script["t-cut"] = [HANG]
            assert await running.run_pass(now_ms=T0)

            async def out() -> bool:
                return receiver.count()["t-cut"] == 1

            await eventually(out)
            # The governor stops with the request out: its answer is never recorded.
            for inflight in list(task._inflight.values()):
                inflight.cancel()
            await task.settle()
        assert (await state(url, "t-cut"))[:2] == ("sending", 1)
        async with governor(settings) as second:
            await run(second, T0 + 10_000)  # the claim has not expired: left alone
            assert (await state(url, "t-cut"))[:2] == ("sending", 1)
            await run(second, T0 + 60_000)  # expired: counted as a failed attempt
            assert await state(url, "t-cut") == ("pending", 1, None, INTERRUPTED)
            assert [(r["attempted"], r["pending"], r["delivery_rate"])
                    for r in await delivery_report(dsn, database)] == [(1, 1, "0.00")]
            await run(second, T0 + 200_000)
            assert await state(url, "t-cut") == ("delivered", 2, 200, "")
        assert receiver.count()["t-cut"] == 2  # at least once: the cut-off one may have landed
        assert [r[:3] for r in deliveries(conversions, "t-cut")] == [
            (1, "approved", "retry"), (2, "approved", "delivered")]

