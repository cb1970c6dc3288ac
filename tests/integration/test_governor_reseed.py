"""Meters re-seeded from ClickHouse after Redis lost them (governor/reseed.py)."""

from __future__ import annotations

import datetime as dt

from tests.integration.money_support import governed, money_graph, ms, unique_ws
from tests.integration.test_reports import click, insert
from turnout.config.meters import UNSEEDED, Meters, Reading, seeded_key
from turnout.governor.reseed import reseed_task

NOW = dt.datetime(2026, 3, 10, 12, 0, tzinfo=dt.UTC)


async def test_after_flushall_meters_never_hand_out_more_than_the_limit_again(
        postgres_url: str, redis_url: str, clickhouse_dsn: str) -> None:
    ws = unique_ws()
    camp, offer = f"{ws}-cpc", f"{ws}-offer"
    graph = money_graph(ws, campaigns={camp: {
        "cost_model": {"type": "cpc", "value": "0.10"}, "budget": "5.00",
        "daily_click_cap": 100}}, offers={offer: {"daily_click_cap": 40}})
    async with governed(postgres_url, redis_url, clickhouse_dsn, graph) as env:
        # 30 clicks counted today: 3.00 spent, 30 clicks of the offer and the campaign.
        insert(env.ch, "clicks", [
            click(NOW - dt.timedelta(hours=1), workspace_id=ws, campaign_id=camp,
                  offer_id=offer, cost_micros=100_000) for _ in range(30)])
        meters = Meters(env.redis, env.prefix)
        budget = meters.key("budget", camp, "total")
        offer_clicks = meters.key("offer_clicks", offer, "2026-03-10")
        campaign_clicks = meters.key("campaign_clicks", camp, "2026-03-10")
        task = reseed_task()
        await env.redis.delete(seeded_key(env.prefix))  # a fresh Redis: no marker
        await task.tick(env.tick(ms(NOW)))  # first start: meters seeded once
        # FLUSHALL, of this test's keys only (the session's Valkey serves other tests).
        await env.redis.delete(*[k async for k in env.redis.scan_iter(f"{env.prefix}:*")])
        # Until the governor re-seeds, the ledger hands out nothing.
        assert await meters.take(budget, limit=5_000_000, want=100_000) == UNSEEDED
        await task.tick(env.tick(ms(NOW) + 2000))
        assert await meters.read(budget) == Reading(3_000_000, 3_000_000, False)
        assert await meters.read(offer_clicks) == Reading(30, 30, False)
        assert await meters.read(campaign_clicks) == Reading(30, 30, False)
        # Only what is left can be handed out again.
        assert await meters.take(budget, limit=5_000_000, want=9_000_000) == 2_000_000
        assert await meters.take(offer_clicks, limit=40, want=100) == 10
        # A live meter is left alone: spend the edges report is not counted twice.
        await meters.settle(budget, spent=2_000_000)
        await task.tick(env.tick(ms(NOW) + 4000))
        assert await meters.read(budget) == Reading(5_000_000, 5_000_000, False)
        assert task.metrics()["meter_reseeds_total"] == 2
