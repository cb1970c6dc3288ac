"""Money nobody else can move (#10 findings 7-10), on real services: a real `turnout edge`,
tansu, the ingest consumers and chdb, with a graph of two workspaces and their networks.

Workspace A (the victim) has networks alpha and beta, each paying for one campaign's
offer, and gamma, allowed to convert other networks' offers. Workspace B (the attacker)
has its own network and pixel key. A's honest conversions are a hand-computed ledger; every
forgery B or a page can send is refused at the edge, or kept out of A's numbers with its
reason in the DLQ, and A's report equals the ledger to the cent.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import clickhouse_connect
import httpx
import orjson
import pytest
from aiokafka import AIOKafkaConsumer

from tests.integration.edge_support import DESKTOP, EdgeProcess, click_id_in, publish
from tests.integration.ingest_support import (
    ingesting,
    make_database,
    make_topics,
    settings_for,
    unique,
    wait_for,
)
from turnout.config.model import (
    Campaign,
    Destination,
    Graph,
    Network,
    Offer,
    TrafficSource,
    Workspace,
)
from turnout.events import TOPIC_CLICKS, TOPIC_CONVERSIONS, TOPIC_EVENTS
from turnout.ingest.consumer import clickhouse_factory
from turnout.local.services import LocalStack
from turnout.reports.run import run_report
from turnout.reports.spec import build_spec

M = 1_000_000
US = "214.78.0.1"
SHOP_A = "https://shop-a.example.com"
SHOP_B = "https://shop-b.example.com"


def two_workspaces(tag: str) -> Graph:
    a, b = f"victim_{tag}", f"attacker_{tag}"

    def offer(id_: str, ws: str, network: str) -> Offer:
        return Offer(id=f"{id_}-{tag}", workspace=ws, name=id_, network=f"{network}-{tag}",
                     url=f"https://offers.alpha.example.net/{id_}?sub={{clickid}}")

    def campaign(id_: str, ws: str, source: str, offer_id: str) -> Campaign:
        return Campaign(id=f"{id_}-{tag}", workspace=ws, name=id_, code=f"{id_}_{tag}".upper(),
                        traffic_source=f"{source}-{tag}", status="active",
                        default=(Destination(id="o", kind="offer", ref=f"{offer_id}-{tag}"),))

    return Graph(
        workspaces=(
            Workspace(id=a, name="Victim", currency="EUR", pixel_key=f"victim-pixel-{tag}",
                      pixel_origins=(SHOP_A,)),
            Workspace(id=b, name="Attacker", currency="USD", pixel_key=f"attacker-pixel-{tag}",
                      pixel_origins=(SHOP_B,)),
        ),
        traffic_sources=(TrafficSource(id=f"src-a-{tag}", workspace=a, name="A ads"),
                         TrafficSource(id=f"src-b-{tag}", workspace=b, name="B ads")),
        networks=(
            Network(id=f"alpha-{tag}", workspace=a, name="Alpha", secret=f"alpha-secret-{tag}"),
            Network(id=f"beta-{tag}", workspace=a, name="Beta", secret=f"beta-secret-{tag}"),
            Network(id=f"gamma-{tag}", workspace=a, name="Gamma", secret=f"gamma-secret-{tag}",
                    convert_other_offers=True),
            Network(id=f"bnet-{tag}", workspace=b, name="B net", secret=f"bnet-secret-{tag}"),
        ),
        offers=(offer("alpha-offer", a, "alpha"), offer("beta-offer", a, "beta"),
                offer("b-offer", b, "bnet")),
        campaigns=(campaign("a1", a, "src-a", "alpha-offer"),
                   campaign("a2", a, "src-a", "beta-offer"),
                   campaign("b1", b, "src-b", "b-offer")),
    )


@dataclass
class World:
    tag: str
    a: str
    b: str
    edge: EdgeProcess
    http: httpx.AsyncClient
    ch: Any
    dlq: str

    async def click(self, code: str, visitor: str = "") -> tuple[str, str]:
        """(click id, visitor id) of a counted click on campaign `code`."""
        cookies = {"cookie": f"tv={visitor}"} if visitor else {}
        response = await self.http.get("/c/" + f"{code}_{self.tag}".upper(), headers={
            "x-forwarded-for": US, "user-agent": DESKTOP, **cookies})
        self.http.cookies.clear()  # each click is its own visitor unless told otherwise
        assert response.status_code == 302, response.text
        return click_id_in(response.headers["location"]), visitor or response.cookies["tv"]

    async def postback(self, network: str, click: str, txid: str, payout: str,
                       status: str = "approved") -> str:
        response = await self.http.get("/postback", params={
            "clickid": click, "txid": txid, "payout": payout, "status": status,
            "secret": f"{network}-secret-{self.tag}"})
        assert response.status_code == 200, response.text
        return str(response.json()["conversion_id"])

    async def pixel(self, workspace: str, origin: str, **params: str) -> httpx.Response:
        key = f"{'victim' if workspace == self.a else 'attacker'}-pixel-{self.tag}"
        return await self.http.get("/p.gif", params={"pixel_key": key, **params},
                                   headers={"referer": f"{origin}/thanks?order=1"})

    def scalar(self, sql: str) -> Any:
        return self.ch.query(sql, parameters={"a": self.a, "b": self.b}).result_rows[0][0]


@pytest.fixture(scope="module")
async def world(stack: LocalStack, clickhouse_dsn: str,
                tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:
    tag = uuid.uuid4().hex[:8]
    graph = two_workspaces(tag)
    edge = EdgeProcess(stack, Path(tmp_path_factory.mktemp("money-edge")))
    await publish(stack.redis_url, edge.prefix, graph)
    await asyncio.to_thread(edge.start)
    database = await asyncio.to_thread(make_database, clickhouse_dsn)
    # The edge writes the shared topics; the letters go to a topic of this module only.
    dlq = (await make_topics(stack.kafka_bootstrap, partitions=1))["dlq"]
    topics = {"clicks": TOPIC_CLICKS, "conversions": TOPIC_CONVERSIONS, "events": TOPIC_EVENTS,
              "dlq": dlq}
    # A generous grace: a conversion whose click is not stored yet when its grace runs out is
    # written unattributed (no DLQ reason to check); on a busy machine the clicks consumer
    # can get its partitions seconds after the conversions consumer. An attributed
    # conversion never waits for the grace, so this costs nothing when all goes well.
    settings = settings_for(database, topics, attribution_grace_s=30.0, visitor_settle_s=1.0)
    ch = clickhouse_connect.get_client(dsn=clickhouse_dsn, database=database)
    try:
        async with (ingesting(stack.kafka_bootstrap, clickhouse_factory(clickhouse_dsn),
                              settings, ("clicks", "conversions")),
                    httpx.AsyncClient(base_url=edge.base_url, timeout=10) as http):
            yield World(tag, graph.workspaces[0].id, graph.workspaces[1].id, edge, http, ch,
                        dlq)
    finally:
        edge.stop()


async def letters(bootstrap: str, topic: str, workspaces: set[str], expected: int,
                  timeout: float = 40) -> dict[str, str]:
    """txid -> DLQ reason of the conversions of `workspaces` in the DLQ (`expected` of them)."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=unique("dlq"),
                                auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    found: dict[str, str] = {}
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while len(found) < expected and loop.time() < deadline:
            for records in (await consumer.getmany(timeout_ms=300)).values():
                for record in records:
                    letter = orjson.loads(record.value)
                    conversion = orjson.loads(letter["value"])
                    if conversion.get("workspace_id") in workspaces:
                        found[conversion["txid"]] = letter["reason"]
    finally:
        await consumer.stop()
    return found


def report(world: World, workspace: str) -> dict[str, tuple[int, Decimal]]:
    """campaign -> (conversions, revenue) through the report query layer."""
    currency = {world.a: "EUR", world.b: "USD"}[workspace]
    spec = build_spec(workspace=workspace, group_by="campaign", currency=currency,
                      metrics="conversions,revenue", start="all")
    return {r["campaign"]: (r["conversions"], Decimal(r["revenue"]))
            for r in run_report(world.ch, spec).records()}


async def test_forged_conversions_never_move_the_victims_money(
        world: World, kafka_bootstrap: str) -> None:
    a, b, tag = world.a, world.b, world.tag
    alpha_click, _ = await world.click("a1")
    beta_click, _ = await world.click("a2")
    # The visitor clicks in A, then in B: last touch for A's page must stay in A.
    visitor_click, visitor = await world.click("a1")
    await asyncio.sleep(0.01)
    await world.click("b1", visitor)

    # The honest ledger of A: two networks on their own offers, gamma (allowed to convert
    # any offer of A) on beta's, and A's own page reporting the visitor's order.
    await world.postback("alpha", alpha_click, "T1", "10.00")
    await world.postback("beta", beta_click, "T2", "7.25")
    await world.postback("gamma", beta_click, "T3", "3.00")
    assert (await world.pixel(a, SHOP_A, type="conversion", visitor_id=visitor, txid="V1",
                              payout="4.00")).status_code == 200

    # 7. B's network, and B's page, name A's click ids.
    await world.postback("bnet", alpha_click, "X1", "999.00")
    await world.postback("bnet", beta_click, "T2", "1.00", "chargeback")
    assert (await world.pixel(b, SHOP_B, type="conversion", click_id=alpha_click, txid="X3",
                              payout="50")).status_code == 200
    # 8. A network of A converts a click on another network's offer.
    await world.postback("beta", alpha_click, "T1", "0.01", "chargeback")
    await world.postback("beta", alpha_click, "X2", "500.00")
    # 9. Pages: no key, a network secret on a page, a foreign origin, money fields on a
    # plain event, the events API without a key; then A's own page trying to charge back
    # the network-reported T1: accepted, but a page never outranks a network.
    refused = [
        await world.http.get("/p.gif", params={"type": "conversion", "click_id": alpha_click,
                                               "payout": "50"}),
        await world.http.get("/p.gif", params={"type": "conversion", "click_id": alpha_click,
                                               "secret": f"alpha-secret-{tag}"}),
        await world.pixel(a, SHOP_B, type="conversion", click_id=alpha_click, payout="50"),
        await world.pixel(a, SHOP_A, event="sale", click_id=alpha_click, payout="50"),
        await world.http.post("/api/v1/events", json={
            "type": "conversion", "click_id": alpha_click, "payout": "50"}),
    ]
    assert [r.status_code for r in refused] == [401, 403, 403, 400, 401]
    assert (await world.pixel(a, SHOP_A, type="conversion", click_id=alpha_click, txid="T1",
                              status="chargeback")).status_code == 200
    # 10. B's page reports the visitor too: it lands on the visitor's click in B only.
    assert (await world.pixel(b, SHOP_B, type="conversion", visitor_id=visitor, txid="V2",
                              payout="60")).status_code == 200

    reasons = await letters(kafka_bootstrap, world.dlq, {a, b}, 5)
    assert {txid: reason.split(":")[0] for txid, reason in reasons.items()} == {
        "X1": "cross_workspace", "T2": "cross_workspace", "X3": "cross_workspace",
        "T1": "foreign_network", "X2": "foreign_network",
    }
    rows = ("SELECT groupArray((txid, source, status, currency, revenue_micros)) FROM "
            "(SELECT * FROM conversions_latest WHERE workspace_id = {a:String} ORDER BY txid)")
    await wait_for(lambda: len(world.scalar(rows)), 4, timeout=60)
    assert world.scalar(rows) == [
        ("T1", "postback", "approved", "EUR", 10 * M),  # the page's chargeback lost
        ("T2", "postback", "approved", "EUR", 7_250_000),
        ("T3", "postback", "approved", "EUR", 3 * M),
        ("V1", "pixel", "approved", "EUR", 4 * M),
    ]
    assert report(world, a) == {f"a1-{tag}": (2, Decimal("14.00")),
                                f"a2-{tag}": (2, Decimal("10.25"))}
    assert world.scalar("SELECT any(click_id) FROM conversions_latest "
                        "WHERE workspace_id = {a:String} AND txid = 'V1'") == visitor_click
    # B holds only its own visitor's conversion, on its own click, in its own currency.
    await wait_for(lambda: world.scalar(
        "SELECT count() FROM conversions_latest WHERE workspace_id = {b:String}"), 1)
    assert report(world, b) == {f"b1-{tag}": (1, Decimal("60.00"))}
