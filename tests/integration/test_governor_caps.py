"""Daily caps and the overlay (governor/caps.py): conversions through Kafka and ingest
into ClickHouse, the overlay in Valkey, notifications in PostgreSQL; time is passed in."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from tests.integration.ingest_support import (
    click,
    conversion,
    ingesting,
    make_topics,
    produce,
    settings_for,
    wait_for,
)
from tests.integration.money_support import DAY_MS, Governed, governed, money_graph, unique_ws
from tests.integration.test_reports import click as row
from tests.integration.test_reports import conversion as converted
from tests.integration.test_reports import insert
from turnout.config import overlay
from turnout.config.compile import compile_graph
from turnout.config.meters import Meters
from turnout.governor.caps import caps_task
from turnout.governor.days import next_midnight_ms
from turnout.ingest.consumer import clickhouse_factory

CAP = 20
BATCH = 4  # conversions arriving between two passes


def approved(env: Governed, ws: str) -> Any:
    return lambda: env.ch.query(
        "SELECT count() FROM conversions_latest WHERE workspace_id = {w:String}"
        " AND status = 'approved' AND counted", parameters={"w": ws}).result_rows[0][0]


async def notifications(env: Governed) -> list[tuple[str, dict[str, Any]]]:
    return [(e, d) for e, d in await env.rows("SELECT event, data FROM notifications ORDER BY id")]


async def test_a_conversion_cap_of_20_caps_the_offer_until_midnight_and_lifts_next_day(
        postgres_url: str, redis_url: str, kafka_bootstrap: str, clickhouse_dsn: str) -> None:
    ws = unique_ws()
    capped, fallback, camp = f"{ws}-vpn", f"{ws}-vpn-ww", f"{ws}-camp"
    graph = money_graph(ws, timezone="Europe/Berlin", campaigns={camp: {"offer": capped}},
                        offers={capped: {"daily_cap": CAP, "fallback_offer": fallback},
                                fallback: {}})
    async with governed(postgres_url, redis_url, clickhouse_dsn, graph) as env:
        topics = await make_topics(kafka_bootstrap)
        settings = settings_for(env.clickhouse.database, topics)
        task = caps_task()
        now = int(time.time() * 1000)
        midnight = next_midnight_ms(now, "Europe/Berlin")
        served = [click(ws, camp, offer_id=capped, network_id=f"{ws}-net", ts_ms=now - 60_000)
                  for _ in range(40)]
        await produce(kafka_bootstrap, topics["clicks"], served)
        sent = 0
        async with ingesting(kafka_bootstrap, clickhouse_factory(clickhouse_dsn), settings,
                             ("clicks", "conversions")) as running:
            # Conversions arrive continuously, BATCH per governor pass, until the offer
            # is capped (from then on the edges send its traffic to the fallback).
            while not (await overlay.read(env.redis, env.prefix)).capped_offers:
                batch = served[sent:sent + BATCH]
                await produce(kafka_bootstrap, topics["conversions"], [
                    conversion(click_id=c.click_id, workspace_id=ws, txid=f"t{sent + i}",
                               payout_micros=2_000_000, ts_ms=now)
                    for i, c in enumerate(batch)])
                sent += len(batch)
                await wait_for(approved(env, ws), sent, running=running)
                await task.tick(env.tick(now))
                assert sent <= 2 * CAP, "the cap never took effect"
            at_cap = sent
            # Conversions of clicks served before the cap arrive later still.
            late = served[sent:sent + 2]
            await produce(kafka_bootstrap, topics["conversions"], [
                conversion(click_id=c.click_id, workspace_id=ws, txid=f"late{i}",
                           payout_micros=2_000_000, ts_ms=now) for i, c in enumerate(late)])
            await wait_for(approved(env, ws), sent + len(late), running=running)
        await task.tick(env.tick(now + 2000))
        # Overshoot bound: conversions counted during one pass (BATCH) plus late ones.
        overshoot = at_cap + len(late) - CAP
        assert 0 <= at_cap - CAP < BATCH and overshoot <= BATCH + len(late)
        verdicts = await overlay.read(env.redis, env.prefix)
        assert verdicts.capped_offers == {capped: overlay.Verdict("conversion_cap", midnight)}
        assert verdicts.blocked_campaigns == {}
        # The edges' compiled graph with the overlay sends the traffic to the fallback.
        active = verdicts.active(now)
        routed = compile_graph(graph, 1, active.capped_offers).campaigns_by_id[camp]
        assert routed.target("default", "d").offer_id == fallback
        assert verdicts.active(midnight).capped_offers == frozenset()
        [(event, data)] = await notifications(env)
        assert event == "cap.reached"
        assert data["offer_id"] == capped and data["limit"] == CAP
        assert data["until_ms"] == midnight and data["count"] == at_cap

        # The next day (clock passed in): the verdict is gone and the lift announced once.
        seq = verdicts.seq
        for later in (now + DAY_MS, now + DAY_MS + 2000):
            await task.tick(env.tick(later))
        after = await overlay.read(env.redis, env.prefix)
        assert (after.capped_offers, after.seq) == ({}, seq + 1)
        events = await notifications(env)
        assert [e for e, _ in events] == ["cap.reached", "cap.lifted"]
        assert events[1][1]["offer_id"] == capped


async def test_a_campaign_conversion_cap_blocks_the_campaign(
        postgres_url: str, redis_url: str, clickhouse_dsn: str) -> None:
    ws = unique_ws()
    camp = f"{ws}-camp"
    graph = money_graph(ws, campaigns={camp: {"daily_conversion_cap": 3}})
    noon = dt.datetime(2026, 3, 10, 12, tzinfo=dt.UTC)
    async with governed(postgres_url, redis_url, clickhouse_dsn, graph) as env:
        clicks = [row(noon, workspace_id=ws, campaign_id=camp) for _ in range(3)]
        insert(env.ch, "clicks", clicks)
        insert(env.ch, "conversions", [converted(c, f"t{i}", 1_000_000)
                                       for i, c in enumerate(clicks)])
        await caps_task().tick(env.tick(int(noon.timestamp() * 1000)))
        verdicts = await overlay.read(env.redis, env.prefix)
        midnight = int(dt.datetime(2026, 3, 11, tzinfo=dt.UTC).timestamp() * 1000)
        assert verdicts.blocked_campaigns == {camp: overlay.Verdict("conversion_cap",
                                                                    midnight)}


async def test_an_exhausted_click_meter_is_a_reached_cap_notified_once_a_day(
        postgres_url: str, redis_url: str, clickhouse_dsn: str) -> None:
    ws = unique_ws()
    offer, camp = f"{ws}-offer", f"{ws}-camp"
    graph = money_graph(ws, campaigns={camp: {"daily_click_cap": 100}},
                        offers={offer: {"daily_click_cap": 10}})
    noon = 1_773_144_000_000  # 2026-03-10T12:00Z
    async with governed(postgres_url, redis_url, clickhouse_dsn, graph) as env:
        meters = Meters(env.redis, env.prefix)
        key = meters.key("offer_clicks", offer, "2026-03-10")
        assert await meters.take(key, limit=10, want=10) == 10
        assert await meters.take(key, limit=10, want=1) == 0  # exhausted
        task = caps_task()
        for now in (noon, noon + 2000):
            await task.tick(env.tick(now))
        # Leased on the edges: reported, no overlay verdict.
        assert (await overlay.read(env.redis, env.prefix)).capped_offers == {}
        [(event, data)] = await notifications(env)
        assert (event, data["cap"], data["offer_id"], data["day"]) == (
            "cap.reached", "click_cap", offer, "2026-03-10")
        await task.tick(env.tick(noon + DAY_MS))
        assert [e for e, _ in await notifications(env)] == ["cap.reached", "cap.lifted"]
