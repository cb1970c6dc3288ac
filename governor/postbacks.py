"""Postbacks to traffic sources (SPEC §11): the governor task that reports conversions back.

Each pass:
1. recover: attempts whose claim expired without an answer recorded (the governor that
   sent them stopped) count as failed attempts of unknown outcome and are retried;
2. discover: the counted conversions in ClickHouse whose source has a postback URL and
   wants their status, not yet owed, are written down in PostgreSQL (`postbacks`), each
   with its URL filled once, or as skipped when the source's postback_percent leaves the
   conversion out;
3. launch: due postbacks are claimed (committed as `sending` with the attempt number) and
   sent in the background, at most `concurrency` at a time, each bounded by `timeout_s`;
   a pass never waits for a receiver. Each answer is recorded when it comes
   (delivered | retry at a backed-off time | failed) and its attempt row goes to
   ClickHouse `postback_deliveries` with the next pass.

The sources are those of the published graph the service follows (`tick.graph`): the
version edges serve, so a source's postback settings apply from the version that publishes
them, with no read of the control plane per pass. A postback's URL is filled when it is
first owed and kept for its retries. Until a graph is loaded nothing new is owed; what is
owed already is still sent.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from typing import Any, Final

import httpx
import psycopg

from turnout.config.compiled import CompiledGraph, CompiledTrafficSource
from turnout.control.db import connection
from turnout.governor.postback_conversions import owed
from turnout.governor.postback_fill import chosen, postback_url
from turnout.governor.postback_retry import DELIVERED, FAILED, RETRY, after, verdict
from turnout.governor.postback_settings import PostbackSettings
from turnout.governor.postback_state import Claim, Key, Owed, claim, expired, known, owe, record
from turnout.governor.settings import GovernorSettings
from turnout.governor.tick import ClickHouse, Tick
from turnout.ingest.schema import POSTBACK_DELIVERIES

log = logging.getLogger(__name__)

TABLE: Final = "postback_deliveries"
INTERRUPTED: Final = "interrupted: no answer was recorded before the claim expired"
_LEASE_MARGIN_MS: Final = 30_000  # beyond timeout_s: how long a claim outlives its request
_MAX_RECORDS: Final = 100_000  # attempt rows kept while ClickHouse refuses them
_COUNTS: Final = ("owed", "skipped", "attempts", "delivered", "retried", "failed",
                  "interrupted", "claims_lost", "errors")


class Postbacks:
    """The task; build it with `postbacks_task`."""

    name = "postbacks"

    def __init__(self, settings: PostbackSettings, timeout_s: float,
                 rng: random.Random | None = None) -> None:
        self.settings = settings
        self.timeout_s = timeout_s  # one request in all: connect, send, answer
        self._rng = rng or random.Random()
        self._lease_ms = round(timeout_s * 1000) + _LEASE_MARGIN_MS
        self._since_ms: int | None = None  # where the next pass reads conversions from
        self._inflight: dict[Key, asyncio.Task[None]] = {}
        self._records: list[tuple[Any, ...]] = []  # postback_deliveries rows to insert
        self._clickhouse: ClickHouse | None = None
        self.counts = dict.fromkeys(_COUNTS, 0)

    def metrics(self) -> dict[str, float]:
        """Counters since start (postbacks owed, skipped, attempts and their outcomes,
        claims taken over, errors) and the gauges in_flight and records_waiting."""
        prefix = "turnout_governor_postbacks"
        return {**{f"{prefix}_{k}_total": float(v) for k, v in self.counts.items()},
                f"{prefix}_in_flight": float(len(self._inflight)),
                f"{prefix}_records_waiting": float(len(self._records))}

    async def tick(self, tick: Tick) -> None:
        self._clickhouse = tick.clickhouse
        try:
            async with connection(tick.pool) as conn:
                await self._recover(conn, tick.now_ms)
            if tick.graph is not None:
                await self._discover(tick, _sources(tick.graph))
            await self._launch(tick)
        finally:
            await self._flush()

    async def settle(self) -> None:
        """Wait for the requests in flight to be answered and recorded, then write their
        attempt rows: for tests, and for the service before it stops."""
        while self._inflight:
            await asyncio.wait(list(self._inflight.values()))
        await self._flush()

    # -- the pass --------------------------------------------------------------------

    async def _recover(self, conn: psycopg.AsyncConnection[Any], now_ms: int) -> None:
        for stale in await expired(conn, now_ms, self.settings.batch):
            if stale.key in self._inflight:  # ours and still waiting: not expired for us
                continue
            answer_at = stale.next_at_ms - self._lease_ms
            step = after(stale.attempts, RETRY, created_ms=stale.created_ms, now_ms=now_ms,
                         settings=self.settings, rng=self._rng)
            if await record(conn, stale, state=step.state, next_at_ms=step.next_at_ms,
                            http_status=None, error=INTERRUPTED):
                self.counts["interrupted"] += 1
                self._count(step.outcome)
                self._records.append(_row(stale, step.outcome, 0, INTERRUPTED, 0, answer_at))

    async def _discover(self, tick: Tick, sources: dict[str, CompiledTrafficSource]) -> None:
        since = self._since_ms
        if since is None:
            since = tick.now_ms - round(self.settings.lookback_s * 1000)
        found = await owed(tick.clickhouse, [(s.workspace_id, s.id, s.postback_statuses)
                                             for s in sources.values()],
                           since, self.settings.batch)
        if found:
            newest = found[-1].ts_ms
            # A full batch pages on; otherwise re-read the grace before the newest, where
            # conversions that reach ClickHouse late still land.
            full = len(found) >= self.settings.batch
            since = newest if full else max(since, newest - round(
                self.settings.ingest_grace_s * 1000))
        self._since_ms = since
        if not found:
            return
        async with connection(tick.pool) as conn:
            seen = await known(conn, (c.key for c in found))
            new: list[Owed] = []
            for conversion in found:
                source = sources.get(conversion.traffic_source_id)
                if (conversion.key in seen or source is None or source.postback_url is None
                        or source.workspace_id != conversion.workspace_id):
                    continue
                url = (postback_url(source.postback_url, conversion, source)
                       if chosen(conversion, source.postback_percent_micros) else None)
                new.append(Owed(conversion.key, source.id, conversion.campaign_id, url))
            await owe(conn, new, tick.now_ms)
        self.counts["owed"] += sum(o.url is not None for o in new)
        self.counts["skipped"] += sum(o.url is None for o in new)

    async def _launch(self, tick: Tick) -> None:
        room = self.settings.concurrency - len(self._inflight)
        if room <= 0:
            return
        async with connection(tick.pool) as conn:  # committed before anything is sent
            claims = await claim(conn, tick.now_ms, room, self._lease_ms)
        for taken in claims:
            attempt = self._inflight[taken.key] = asyncio.create_task(self._attempt(tick, taken))
            attempt.add_done_callback(lambda done, key=taken.key: self._done(key, done))

    def _done(self, key: Key, attempt: asyncio.Task[None]) -> None:
        if self._inflight.get(key) is attempt:
            del self._inflight[key]

    # -- one attempt -----------------------------------------------------------------

    async def _attempt(self, tick: Tick, taken: Claim) -> None:
        try:
            self.counts["attempts"] += 1
            started = time.monotonic()
            http_status, error = await self._send(tick.http, taken.url)
            duration_ms = round((time.monotonic() - started) * 1000)
            step = after(taken.attempts, verdict(http_status), created_ms=taken.created_ms,
                         now_ms=tick.now_ms + duration_ms, settings=self.settings,
                         rng=self._rng)
            async with connection(tick.pool) as conn:
                mine = await record(conn, taken, state=step.state, next_at_ms=step.next_at_ms,
                                    http_status=http_status, error=error)
            if not mine:  # it expired and another pass took it over meanwhile
                self.counts["claims_lost"] += 1
                log.warning("postback %s/%s: claim of attempt %d was taken over before its "
                            "answer was recorded", taken.key[0], taken.traffic_source_id,
                            taken.attempts)
            self._count(step.outcome)
            self._records.append(_row(taken, step.outcome, http_status or 0, error,
                                      duration_ms, tick.now_ms))
        except Exception:
            # The claim stays `sending` and expires: the next pass retries it (at least once).
            self.counts["errors"] += 1
            log.exception("postback to source %s: the attempt could not be recorded",
                          taken.traffic_source_id)

    async def _send(self, http: httpx.AsyncClient, url: str) -> tuple[int | None, str]:
        """(HTTP status or None without an answer, what went wrong or ""). The URL is the
        source's own and may carry its secrets: it is logged at debug level only."""
        timeout = self.timeout_s
        try:
            async with asyncio.timeout(timeout):
                async with http.stream("GET", url, timeout=timeout,
                                       follow_redirects=False) as response:
                    status = response.status_code
        except (TimeoutError, httpx.TimeoutException):
            log.debug("postback timed out: %s", url)
            return None, f"timeout after {timeout:g} s"
        except httpx.HTTPError as exc:
            log.debug("postback failed: %s: %s", url, exc)
            return None, f"{type(exc).__name__}: {exc}"[:300]
        return status, f"HTTP {status}" if status >= 400 else ""

    def _count(self, outcome: str) -> None:
        name = {DELIVERED: "delivered", RETRY: "retried", FAILED: "failed"}[outcome]
        self.counts[name] += 1

    async def _flush(self) -> None:
        if not self._records or self._clickhouse is None:
            return
        rows, self._records = self._records, []
        try:
            await self._clickhouse.insert(TABLE, POSTBACK_DELIVERIES, rows)
        except Exception:
            # Kept for the next pass; a row written twice collapses on its key.
            self._records = (rows + self._records)[-_MAX_RECORDS:]
            self.counts["errors"] += 1
            log.exception("postback_deliveries: %d attempt rows not written yet", len(rows))


def _row(taken: Claim, outcome: str, http_status: int, error: str, duration_ms: int,
         at_ms: int) -> tuple[Any, ...]:
    """A postback_deliveries row (ingest.schema.POSTBACK_DELIVERIES order)."""
    workspace_id, click_id, txid, status = taken.key
    return (workspace_id, taken.campaign_id, taken.traffic_source_id, click_id, txid, status,
            taken.attempts, outcome, taken.url, http_status, error, duration_ms, at_ms)


def _sources(graph: CompiledGraph) -> dict[str, CompiledTrafficSource]:
    """The graph's traffic sources with a postback URL, by id (unique across workspaces)."""
    return {s.id: s for s in graph.traffic_sources_by_id.values() if s.postback_url is not None}


def postbacks_task(settings: GovernorSettings, postbacks: PostbackSettings,
                   rng: random.Random | None = None) -> Postbacks:
    """The postbacks task for the governor's loop: requests time out after the governor's
    http_timeout_s (`rng`: the retries' jitter, for tests)."""
    return Postbacks(postbacks, settings.http_timeout_s, rng)
