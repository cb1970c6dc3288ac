"""Signed webhooks: the notifications outbox (governor/notify.py) delivered to every
subscribed endpoint of its workspace (control/webhook_endpoints.py).

Each pass plans the notifications not planned yet (one `webhook_deliveries` row per enabled
endpoint subscribed to the event) and then POSTs the deliveries that are due, at most
`concurrency` at once. The body is `{id, event, workspace, at, data}`; the headers
`X-Turnout-Timestamp: <unix seconds>` and `X-Turnout-Signature: sha256=<hex HMAC-SHA256 of
"{timestamp}.{body}" keyed with the endpoint's secret>` (docs/webhooks.md: verifying).

A 2xx answer delivers it, for good: the state is in PostgreSQL, so a restarted governor
never sends it again. Timeouts, connection errors, 408, 429 and 5xx are retried after an
exponential backoff with jitter, scheduled by the pass's time; after `attempts` attempts,
or at once for any other answer (a 4xx or a redirect: the request itself is refused), the
delivery is recorded as failed. Each attempt is recorded as soon as its answer arrives.
Delivery is at least once: a governor killed between an answer and its record sends that
one again, with the same `id`, which receivers deduplicate on.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import hmac
import random
from dataclasses import dataclass
from typing import Any, Final

import httpx
import msgspec

from turnout.control.db import connection
from turnout.governor.task_settings import WebhookSettings
from turnout.governor.tick import Tick

SIGNATURE_HEADER: Final = "X-Turnout-Signature"
TIMESTAMP_HEADER: Final = "X-Turnout-Timestamp"
_RETRIED_STATUSES: Final = frozenset({408, 429})
_PLAN_BATCH: Final = 1000
_ENCODER: Final = msgspec.json.Encoder()

_PLAN: Final = """
WITH planned AS (
    SELECT id, workspace_id, event FROM notifications WHERE planned_at IS NULL
    ORDER BY id LIMIT %(batch)s FOR UPDATE SKIP LOCKED
), deliveries AS (
    INSERT INTO webhook_deliveries (notification_id, workspace_id, endpoint_id, next_attempt_at)
    SELECT p.id, p.workspace_id, e.id, %(now)s FROM planned p JOIN webhook_endpoints e
        ON e.workspace_id = p.workspace_id AND e.enabled AND p.event = ANY(e.events)
    ON CONFLICT DO NOTHING
)
UPDATE notifications SET planned_at = %(now)s WHERE id IN (SELECT id FROM planned)
"""
_DUE: Final = """
SELECT d.notification_id, d.workspace_id, d.endpoint_id, d.attempts, n.event, n.at, n.data,
       e.url, e.secret
FROM webhook_deliveries d
JOIN notifications n ON n.id = d.notification_id AND n.workspace_id = d.workspace_id
JOIN webhook_endpoints e ON e.workspace_id = d.workspace_id AND e.id = d.endpoint_id
WHERE d.state = 'pending' AND d.next_attempt_at <= %(now)s AND e.enabled
ORDER BY d.next_attempt_at, d.notification_id LIMIT %(batch)s
"""
_RECORD: Final = """
UPDATE webhook_deliveries SET state = %s, attempts = attempts + 1, last_status = %s,
    last_error = %s, next_attempt_at = %s, delivered_at = %s
WHERE notification_id = %s AND workspace_id = %s AND endpoint_id = %s AND state = 'pending'
"""


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """The X-Turnout-Signature value of `body` sent at `timestamp`."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


def body_of(notification_id: int, event: str, workspace_id: str, at: dt.datetime,
            data: dict[str, Any]) -> bytes:
    return _ENCODER.encode({"id": notification_id, "event": event, "workspace": workspace_id,
                            "at": at.astimezone(dt.UTC), "data": data})


@dataclass(frozen=True, slots=True)
class Due:
    notification_id: int
    workspace_id: str
    endpoint_id: str
    attempts: int  # made before this one
    event: str
    at: dt.datetime
    data: dict[str, Any]
    url: str
    secret: str


@dataclass(frozen=True, slots=True)
class Attempt:
    """How one POST went: `status` None when there was no answer."""

    due: Due
    status: int | None
    error: str | None

    @property
    def delivered(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    @property
    def retriable(self) -> bool:
        return self.status is None or self.status >= 500 or self.status in _RETRIED_STATUSES


class WebhookTask:
    """The governor task delivering the outbox; counters for /metrics."""

    name: str = "webhooks"

    def __init__(self, settings: WebhookSettings | None = None,
                 rng: random.Random | None = None) -> None:
        self.settings = settings or WebhookSettings()
        self._random = rng or random.Random()
        self.delivered = 0
        self.retried = 0  # attempts that failed and will be tried again
        self.failed = 0  # deliveries given up

    def metrics(self) -> dict[str, float]:
        return {"webhook_delivered_total": self.delivered,
                "webhook_retries_total": self.retried, "webhook_failed_total": self.failed}

    def backoff_s(self, attempts: int) -> float:
        """The wait after the `attempts`-th failed attempt: exponential, half of it jitter."""
        ceiling = min(self.settings.backoff_max_s,
                      self.settings.backoff_s * 2 ** min(attempts - 1, 32))
        return ceiling / 2 + self._random.uniform(0, ceiling / 2)

    async def tick(self, tick: Tick) -> None:
        now = dt.datetime.fromtimestamp(tick.now_ms / 1000, dt.UTC)
        async with connection(tick.pool) as conn:
            await conn.execute(_PLAN, {"batch": _PLAN_BATCH, "now": now})
        async with connection(tick.pool) as conn:
            cursor = await conn.execute(_DUE, {"now": now, "batch": self.settings.batch})
            due = [Due(*row) for row in await cursor.fetchall()]
        if not due:
            return
        gate = asyncio.Semaphore(self.settings.concurrency)
        await asyncio.gather(*(self._deliver(tick, gate, d) for d in due))

    async def _deliver(self, tick: Tick, gate: asyncio.Semaphore, due: Due) -> None:
        """Send one delivery and record how it went at once, so a governor killed mid-batch
        resends only what was in flight."""
        attempt = await self._send(tick, gate, due)
        async with connection(tick.pool) as conn:
            await conn.execute(_RECORD, self._outcome(attempt, tick.now_ms))

    async def _send(self, tick: Tick, gate: asyncio.Semaphore, due: Due) -> Attempt:
        body = body_of(due.notification_id, due.event, due.workspace_id, due.at, due.data)
        timestamp = str(tick.now_ms // 1000)
        headers = {"Content-Type": "application/json", "User-Agent": "turnout-governor",
                   "X-Turnout-Event": due.event, TIMESTAMP_HEADER: timestamp,
                   SIGNATURE_HEADER: signature(due.secret, timestamp, body)}
        async with gate:
            try:
                answer = await tick.http.post(due.url, content=body, headers=headers,
                                              timeout=self.settings.timeout_s)
            except httpx.HTTPError as exc:  # timeouts, refused connections, bad URLs
                return Attempt(due, None, type(exc).__name__)  # never the URL: it may hold a token
        return Attempt(due, answer.status_code,
                       None if 200 <= answer.status_code < 300 else f"HTTP {answer.status_code}")

    def _outcome(self, attempt: Attempt, now_ms: int) -> tuple[Any, ...]:
        due, made = attempt.due, attempt.due.attempts + 1
        now = dt.datetime.fromtimestamp(now_ms / 1000, dt.UTC)
        if attempt.delivered:
            self.delivered += 1
            state, next_at, delivered_at = "delivered", now, now
        elif attempt.retriable and made < self.settings.attempts:
            self.retried += 1
            state, delivered_at = "pending", None
            next_at = now + dt.timedelta(seconds=self.backoff_s(made))
        else:
            self.failed += 1
            state, next_at, delivered_at = "failed", now, None
        return (state, attempt.status, attempt.error, next_at, delivered_at,
                due.notification_id, due.workspace_id, due.endpoint_id)


def webhooks_task(settings: WebhookSettings | None = None) -> WebhookTask:
    """The task the governor service registers (settings: WebhookSettings.from_env())."""
    return WebhookTask(settings)
