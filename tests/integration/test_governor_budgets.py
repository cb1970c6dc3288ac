"""Budgets acting through the control plane (governor/budgets.py) on real PostgreSQL,
Valkey and chdb; time is passed in."""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec
import psycopg
import pytest

from tests.integration.money_support import (
    DAY_MS,
    Governed,
    governed,
    money_graph,
    ms,
    unique_ws,
)
from tests.integration.publish_support import eventually
from tests.integration.test_reports import click, conversion, insert
from turnout.config import overlay
from turnout.config.meters import Meters
from turnout.config.store import GraphStore
from turnout.control.entities import Actor, act
from turnout.governor.budgets import budget_task
from turnout.governor.caps import caps_task
from turnout.governor.spend import Counting

NOW = dt.datetime(2026, 3, 10, 12, 0, tzinfo=dt.UTC)
PAUSE_AT_100 = {"amount": "5.00", "thresholds": [{"at": 100, "action": "pause"}]}


async def governor_rows(env: Governed, campaign: str) -> dict[str, list[Any]]:
    return {
        "audit": await env.rows("SELECT actor, action, after->>'reason' FROM audit"
                                " WHERE entity_id = %s AND actor = 'governor' ORDER BY id",
                                campaign),
        "notifications": await env.rows("SELECT event, data FROM notifications ORDER BY id"),
        "claims": await env.rows("SELECT key, detail FROM governor_actions"
                                 " WHERE kind = 'budget' ORDER BY key"),
    }


async def status_of(env: Governed, campaign: str) -> tuple[str, int]:
    [(status, revision)] = await env.rows(
        "SELECT status, revision FROM campaigns WHERE id = %s", campaign)
    return status, revision


async def test_a_spent_meter_pauses_once_with_one_audit_row_and_one_notification(
        postgres_url: str, redis_url: str, clickhouse_dsn: str) -> None:
    ws = unique_ws()
    camp = f"{ws}-cpc"
    graph = money_graph(ws, campaigns={camp: {
        "cost_model": {"type": "cpc", "value": "0.10"}, "budget": PAUSE_AT_100}})
    async with governed(postgres_url, redis_url, clickhouse_dsn, graph) as env:
        meters = Meters(env.redis, env.prefix)
        key = meters.key("budget", camp, "total")
        assert await meters.take(key, limit=5_000_000, want=5_000_000,
                                 least=100_000) == 5_000_000
        await meters.settle(key, spent=5_000_000)  # 50 clicks at 0.10, none counted yet
        task = budget_task()
        await task.tick(env.tick(ms(NOW)))
        await task.tick(env.tick(ms(NOW) + 2000))  # a second pass
        await budget_task().tick(env.tick(ms(NOW) + 4000))  # a second governor
        rows = await governor_rows(env, camp)
        assert rows["audit"] == [("governor", "pause", "budget 100 % spent")]
        events = [event for event, _ in rows["notifications"]]
        assert events == ["campaign.transition", "budget.threshold"]
        threshold = rows["notifications"][1][1]
        assert threshold == {"campaign_id": camp, "period": "total", "threshold": 100,
                             "action": "pause", "spent": "5.00", "budget": "5.00",
                             "currency": "EUR", "outcome": "paused"}
        assert rows["notifications"][0][1]["to"] == "paused"
        [(claim, detail)] = rows["claims"]
        assert claim == f"budget:{ws}:{camp}:total:5000000:100"
        assert detail["outcome"] == "paused" and detail["revision"] is not None
        assert (await status_of(env, camp))[0] == "paused"
        assert task.metrics()["budget_transitions_total"] == 1
        # Published as a version naming the governor.
        store = GraphStore(env.redis, env.prefix)

        async def published() -> bool:
            version = await store.current_version()
            if version is None or version < 2:
                return False
            info = await store.info(version)
            return (info.actor, info.note) == ("governor",
                                               f"pause campaigns {camp}: budget 100 % spent")
        await eventually(published)


async def test_an_exhausted_meter_counts_as_the_whole_budget(
        postgres_url: str, redis_url: str, clickhouse_dsn: str) -> None:
    ws = unique_ws()
    camp = f"{ws}-cpc"
    graph = money_graph(ws, campaigns={camp: {
        "cost_model": {"type": "cpc", "value": "0.30"}, "budget": "5.00"}})
    async with governed(postgres_url, redis_url, clickhouse_dsn, graph) as env:
        meters = Meters(env.redis, env.prefix)
        key = meters.key("budget", camp, "total")
        await meters.take(key, limit=5_000_000, want=4_800_000, least=300_000)
        await meters.settle(key, spent=4_800_000)
        assert await meters.take(key, limit=5_000_000, want=300_000, least=300_000) == 0
        await budget_task().tick(env.tick(ms(NOW)))
        rows = await governor_rows(env, camp)
        # Default thresholds: notify at 90 %, pause at 100 %.
        assert [d["at"] for _, d in rows["claims"]] == [100, 90]
        assert rows["audit"] == [("governor", "pause", "budget 100 % spent")]
        spent = {d["threshold"]: d["spent"] for e, d in rows["notifications"]
                 if e == "budget.threshold"}
        assert spent == {90: "5.00", 100: "5.00"}


async def test_a_campaign_a_human_paused_first_is_recorded_not_an_error(
        postgres_url: str, redis_url: str, clickhouse_dsn: str) -> None:
    ws = unique_ws()
    camp = f"{ws}-cpc"
    graph = money_graph(ws, campaigns={camp: {
        "cost_model": {"type": "cpc", "value": "0.10"}, "budget": PAUSE_AT_100}})
    async with governed(postgres_url, redis_url, clickhouse_dsn, graph) as env:
        _, revision = await status_of(env, camp)
        async with env.pool.connection() as conn:
            await act(conn, Actor(ws, "key-1"), camp, "pause", revision, now_ms=ms(NOW))
        # Counted in ClickHouse (no meter at all): 50 clicks at 0.10.
        insert(env.ch, "clicks", [click(NOW - dt.timedelta(hours=1), workspace_id=ws,
                                        campaign_id=camp, cost_micros=100_000)
                                  for _ in range(50)])
        await budget_task().tick(env.tick(ms(NOW)))
        rows = await governor_rows(env, camp)
        assert rows["audit"] == []
        [(_, detail)] = rows["claims"]
        assert detail["outcome"].startswith("refused: it is already paused")
        [(event, data)] = rows["notifications"]
        assert (event, data["outcome"], data["spent"]) == (
            "budget.threshold", detail["outcome"], "5.00")


def cpa_rows(ws: str, camp: str, at: dt.datetime, n: int, start: int = 0
             ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """`n` CPA (1.00) clicks at `at`, each with an approved conversion."""
    clicks = [click(at, workspace_id=ws, campaign_id=camp, cost_model="cpa",
                    cost_rate_micros=1_000_000, offer_id=f"{ws}-offer") for _ in range(n)]
    return clicks, [conversion(c, f"t{start + i}", 2_000_000) for i, c in enumerate(clicks)]


def insert_cpa(env: Governed, ws: str, camp: str, at: dt.datetime, n: int,
               start: int = 0) -> None:
    clicks, conversions = cpa_rows(ws, camp, at, n, start)
    insert(env.ch, "clicks", clicks)
    insert(env.ch, "conversions", conversions)


@pytest.mark.parametrize("changed_by_a_human", [False, True])
async def test_a_daily_budget_pauses_and_resumes_on_the_next_local_day(
        postgres_url: str, redis_url: str, clickhouse_dsn: str,
        changed_by_a_human: bool) -> None:
    ws = unique_ws()
    camp = f"{ws}-cpa"
    graph = money_graph(ws, timezone="Europe/Berlin", campaigns={camp: {
        "cost_model": {"type": "cpa", "value": "1.00"},
        "budget": {"amount": "3.00", "period": "daily"}}})
    # 23:30 in Berlin on March 10th (UTC+1): its day ends at 23:00 UTC.
    evening = dt.datetime(2026, 3, 10, 22, 30, tzinfo=dt.UTC)
    midnight = ms(dt.datetime(2026, 3, 10, 23, 0, tzinfo=dt.UTC))
    async with governed(postgres_url, redis_url, clickhouse_dsn, graph) as env:
        insert_cpa(env, ws, camp, evening - dt.timedelta(minutes=20), 3)
        counting = Counting()
        budgets, caps = budget_task(counting), caps_task(counting)
        for task in (budgets, caps):
            await task.tick(env.tick(ms(evening)))
        assert (await status_of(env, camp))[0] == "paused"
        # CPA spend comes with conversions: edges are stopped by the overlay at once.
        verdicts = await overlay.read(env.redis, env.prefix)
        assert verdicts.blocked_campaigns == {camp: overlay.Verdict("budget", midnight)}
        if changed_by_a_human:
            _, revision = await status_of(env, camp)
            async with env.pool.connection() as conn:
                await act(conn, Actor(ws, "key-1"), camp, "resume", revision,
                          now_ms=ms(evening))
                revision += 1
                await act(conn, Actor(ws, "key-1"), camp, "pause", revision,
                          now_ms=ms(evening))
        next_day = env.tick(ms(evening) + DAY_MS // 2)
        for task in (budgets, caps):
            await task.tick(next_day)
        await budget_task().tick(env.tick(ms(evening) + DAY_MS // 2 + 2000))
        rows = await governor_rows(env, camp)
        [resume] = [d for key, d in rows["claims"] if key.endswith(":2026-03-11:resume")]
        assert (await overlay.read(env.redis, env.prefix)).blocked_campaigns == {}
        if changed_by_a_human:
            assert resume["outcome"].startswith("refused: changed since")
            assert [a for _, a, _ in rows["audit"]] == ["pause"]
            assert (await status_of(env, camp))[0] == "paused"
        else:
            assert resume["outcome"] == "resumed"
            assert [a for _, a, _ in rows["audit"]] == ["pause", "resume"]
            assert (await status_of(env, camp))[0] == "active"
            assert budgets.metrics()["budget_transitions_total"] == 2


async def test_cpa_overshoot_stays_within_the_stated_bound_as_conversions_keep_arriving(
        postgres_url: str, redis_url: str, clickhouse_dsn: str) -> None:
    """Conversions of served clicks arrive continuously (RATE a second, 1.00 each); each
    becomes visible in ClickHouse LAG ms after it arrives; the governor passes every PASS
    ms; edges follow the overlay FOLLOW ms after it changes. The campaign must stop within
    T = LAG + PASS + FOLLOW of spend reaching the budget, and overshoot <= the conversions
    of T plus those of clicks served before the stop that arrive later (LATE)."""
    rate, lag, interval, follow, late, budget = 2, 3000, 2000, 1000, 3, 30
    ws = unique_ws()
    camp = f"{ws}-cpa"
    graph = money_graph(ws, campaigns={camp: {
        "cost_model": {"type": "cpa", "value": "1.00"},
        "budget": {"amount": f"{budget}.00", "thresholds": [{"at": 100, "action": "pause"}]}}})
    start = ms(NOW)
    async with governed(postgres_url, redis_url, clickhouse_dsn, graph) as env:
        counting = Counting()
        budgets, caps = budget_task(counting), caps_task(counting)
        arrivals: list[int] = []  # arrival instants of the conversions (ms)
        inserted = 0
        stop_at: int | None = None
        now = start
        while stop_at is None or now < stop_at + lag + interval:
            step = now + 1000 // rate  # one arrival per 1/RATE s while the campaign serves
            if stop_at is None or step <= stop_at:
                arrivals.append(step)
            if (now - start) % interval == 0:
                visible = [a for a in arrivals[inserted:] if a <= now - lag]
                for a in visible:
                    moment = dt.datetime.fromtimestamp(a / 1000, dt.UTC)
                    insert_cpa(env, ws, camp, moment - dt.timedelta(seconds=10), 1,
                               start=inserted)
                    inserted += 1
                for task in (budgets, caps):
                    await task.tick(env.tick(now))
                blocked = (await overlay.read(env.redis, env.prefix)).active(now)
                if stop_at is None and camp in blocked.blocked_campaigns:
                    stop_at = now + follow
            now += 1000 // rate
        # Conversions of clicks served before the stop, attributed later still.
        for i in range(late):
            arrivals.append(now + i)
        for a in arrivals[inserted:]:
            moment = dt.datetime.fromtimestamp(a / 1000, dt.UTC)
            insert_cpa(env, ws, camp, moment - dt.timedelta(seconds=10), 1, start=inserted)
            inserted += 1
        assert stop_at is not None
        reached_at = arrivals[budget - 1]  # the conversion that spent the budget
        overshoot = len(arrivals) - budget  # in units of the CPA (1.00)
        window = lag + interval + follow
        assert stop_at - reached_at <= window
        assert 0 < overshoot <= rate * window // 1000 + late
        rows = await governor_rows(env, camp)
        assert rows["audit"] == [("governor", "pause", "budget 100 % spent")]
        print(f"CPA bound: stopped {stop_at - reached_at} ms after the budget was spent "
              f"(T = {window} ms); overshoot {overshoot}.00 of {budget}.00 "
              f"(bound {rate * window // 1000 + late}.00)")


async def test_a_raised_budget_is_watched_anew(
        postgres_url: str, redis_url: str, clickhouse_dsn: str) -> None:
    ws = unique_ws()
    camp = f"{ws}-cpc"
    graph = money_graph(ws, campaigns={camp: {
        "cost_model": {"type": "cpc", "value": "0.10"}, "budget": PAUSE_AT_100}})
    async with governed(postgres_url, redis_url, clickhouse_dsn, graph) as env:
        meters = Meters(env.redis, env.prefix)
        key = meters.key("budget", camp, "total")
        await meters.take(key, limit=5_000_000, want=5_000_000)
        await meters.settle(key, spent=5_000_000)
        task = budget_task()
        await task.tick(env.tick(ms(NOW)))
        assert (await status_of(env, camp))[0] == "paused"
        # The buyer raises the budget to 10.00 and resumes: the spent 5.00 is 50 % of it.
        raised = msgspec.structs.replace(env.graph, campaigns=tuple(
            msgspec.structs.replace(c, budget={**PAUSE_AT_100, "amount": "10.00"})
            if c.id == camp else c for c in env.graph.campaigns))
        env.graph = msgspec.convert(msgspec.to_builtins(raised), type(raised))
        _, revision = await status_of(env, camp)
        async with await psycopg.AsyncConnection.connect(env.url) as conn:
            await act(conn, Actor(ws, "buyer"), camp, "resume", revision, now_ms=ms(NOW))
            await conn.commit()
        await task.tick(env.tick(ms(NOW) + 2000))
        assert (await status_of(env, camp))[0] == "active"
        await meters.take(key, limit=10_000_000, want=5_000_000)
        await meters.settle(key, spent=5_000_000)  # 10.00 of 10.00
        await task.tick(env.tick(ms(NOW) + 4000))
        assert (await status_of(env, camp))[0] == "paused"
        rows = await governor_rows(env, camp)
        assert [action for _, action, _ in rows["audit"]] == ["pause", "pause"]
