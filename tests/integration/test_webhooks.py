"""Signed webhooks on real PostgreSQL with a local receiver: endpoints made through the
admin API, notifications enqueued as the governor's tasks do, deliveries driven by the
time passed in."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import AsyncIterator

import psycopg
import pytest

from tests.integration.automation_support import NOW_MS, Governed, governed
from tests.integration.entities_support import World, entity_world
from tests.integration.webhook_support import receiver
from turnout.governor import notify
from turnout.governor.task_settings import WebhookSettings
from turnout.governor.webhooks import WebhookTask, webhooks_task

SECONDS = 1000


@pytest.fixture
async def gov(postgres_url: str, redis_url: str, clickhouse_dsn: str
              ) -> AsyncIterator[Governed]:
    async with entity_world(postgres_url, redis_url, clickhouse_dsn) as world, \
            governed(world, clickhouse_dsn, redis_url) as g:
        yield g


async def endpoint(world: World, url: str, endpoint_id: str = "hook", **fields: object
                   ) -> str:
    answer = await world.send("POST", "/api/v1/webhooks",
                              {"id": endpoint_id, "url": url, **fields}, role="admin")
    assert answer.status_code == 201, answer.text
    assert answer.headers["cache-control"] == "no-store"
    return str(answer.json()["secret"])


async def enqueue(world: World, key: str, workspace: str = "acme",
                  event: str = "automation.action") -> None:
    async with await psycopg.AsyncConnection.connect(world.url) as conn:
        await notify.enqueue(conn, workspace_id=workspace, event=event,
                             data={"rule": "r1", "key": key}, key=key)


async def deliveries(world: World) -> list[tuple[object, ...]]:
    return await world.sql("SELECT endpoint_id, state, attempts, last_status, last_error "
                           "FROM webhook_deliveries ORDER BY notification_id, endpoint_id")


def settings(**changes: object) -> WebhookSettings:
    base = {"attempts": 4, "timeout_s": 2.0, "backoff_s": 10.0, "backoff_max_s": 60.0}
    return WebhookSettings(**{**base, **changes})  # type: ignore[arg-type]


async def test_signed_delivered_once_after_a_failure_and_not_again_after_restart(
        gov: Governed) -> None:
    world = gov.world
    async with receiver(503, 200) as hook:
        secret = await endpoint(world, hook.url)
        await enqueue(world, "n1")
        await enqueue(world, "n-beta", workspace="beta")  # another workspace's: not ours
        task = webhooks_task(settings())
        await task.tick(gov.tick(NOW_MS))
        assert await deliveries(world) == [("hook", "pending", 1, 503, "HTTP 503")]
        await task.tick(gov.tick(NOW_MS + 4 * SECONDS))  # before the backoff (>= 5 s)
        assert len(hook.received) == 1
        await task.tick(gov.tick(NOW_MS + 11 * SECONDS))
        assert await deliveries(world) == [("hook", "delivered", 2, 200, None)]
        assert len(hook.received) == 2

        restarted = webhooks_task(settings())
        await restarted.tick(gov.tick(NOW_MS + 3600 * SECONDS))
        assert len(hook.received) == 2 and task.metrics()["webhook_delivered_total"] == 1

    for got in hook.received:  # the receiver's own check of every request
        timestamp = got.headers["x-turnout-timestamp"]
        mac = hmac.new(secret.encode(), timestamp.encode() + b"." + got.body, hashlib.sha256)
        assert got.headers["x-turnout-signature"] == f"sha256={mac.hexdigest()}"
        body = json.loads(got.body)
        assert set(body) == {"id", "event", "workspace", "at", "data"}
        assert (body["event"], body["workspace"], body["data"]) == (
            "automation.action", "acme", {"rule": "r1", "key": "n1"})
    assert hook.received[1].headers["x-turnout-timestamp"] == str(NOW_MS // 1000 + 11)
    assert json.loads(hook.received[0].body)["id"] == json.loads(hook.received[1].body)["id"]


async def test_gives_up_after_its_attempts_and_at_once_on_a_4xx(gov: Governed) -> None:
    world = gov.world
    async with receiver(500) as failing, receiver(404) as missing, receiver("hang") as slow:
        await endpoint(world, failing.url, "failing")
        await endpoint(world, missing.url, "missing")
        await endpoint(world, slow.url, "slow")
        await enqueue(world, "n1")
        task = WebhookTask(settings(attempts=2, timeout_s=0.3, backoff_s=1, backoff_max_s=1))
        await task.tick(gov.tick(NOW_MS))
        assert await deliveries(world) == [
            ("failing", "pending", 1, 500, "HTTP 500"), ("missing", "failed", 1, 404, "HTTP 404"),
            ("slow", "pending", 1, None, "ReadTimeout")]
        await task.tick(gov.tick(NOW_MS + 2 * SECONDS))
        assert await deliveries(world) == [
            ("failing", "failed", 2, 500, "HTTP 500"), ("missing", "failed", 1, 404, "HTTP 404"),
            ("slow", "failed", 2, None, "ReadTimeout")]
        await task.tick(gov.tick(NOW_MS + 60 * SECONDS))
        assert (len(failing.received), len(missing.received), len(slow.received)) == (2, 1, 2)


async def test_only_subscribed_enabled_endpoints_receive(gov: Governed) -> None:
    world = gov.world
    async with receiver(200) as caps, receiver(200) as off:
        await endpoint(world, caps.url, "caps", events=["cap.reached"])
        await endpoint(world, off.url, "off", enabled=False)
        await enqueue(world, "n1", event="automation.action")
        await enqueue(world, "n2", event="cap.reached")
        await webhooks_task(settings()).tick(gov.tick())
        assert [json.loads(r.body)["event"] for r in caps.received] == ["cap.reached"]
        assert off.received == []


async def test_the_secret_is_shown_once_and_audited_masked(gov: Governed) -> None:
    world = gov.world
    secret = await endpoint(world, "https://hooks.example.com/in", secret="s" * 20)
    assert secret == "s" * 20
    shown = await world.get("/api/v1/webhooks/hook", role="admin")
    assert shown.status_code == 200 and "secret" not in shown.json()
    listed = await world.get("/api/v1/webhooks", role="admin")
    assert "s" * 20 not in listed.text
    audit = await world.get("/api/v1/audit?entity_kind=webhook", role="admin")
    assert "s" * 20 not in audit.text and audit.json()["items"][0]["after"]["secret"] == "***"
    assert (await world.get("/api/v1/webhooks", role="editor")).status_code == 403
    bad = await world.send("POST", "/api/v1/webhooks",
                           {"id": "bad", "url": "ftp://x", "events": ["cap.reached",
                                                                      "cap.reached"]},
                           role="admin")
    assert bad.status_code == 422
    assert {e["path"] for e in bad.json()["errors"]} == {"url", "events"}
    other = {"Authorization": f"Bearer {world.foreign}"}
    assert (await world.http.get("/api/v1/webhooks/hook", headers=other)).status_code == 404
    rotated = await world.send("PUT", "/api/v1/webhooks/hook",
                               {"id": "hook", "url": "https://hooks.example.com/in",
                                "secret": "t" * 20}, revision=1, role="admin")
    assert rotated.status_code == 200 and rotated.json()["revision"] == 2
    assert await world.sql("SELECT secret FROM webhook_endpoints") == [("t" * 20,)]
