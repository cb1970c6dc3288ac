"""The governor's loop: lead (or wait), then run every task once per pass.

Every `interval_s` the service takes or renews the leader lock (governor/leader.py); while it
leads it builds one `Tick` (the pass's time, the epoch, the connections and the graph as
followed) and runs each task in turn. A task that raises is counted and logged and the
others run anyway; the next pass tries it again. A pass that runs longer than a third of
the lease renews the lock between tasks, so a slow ClickHouse does not hand leadership to
a second governor halfway. A pass that finds Redis or PostgreSQL unreachable is skipped
(counted in turnout_governor_passes_skipped_total) and the next is tried after the
reconnect backoff (capped, jittered; at most the pass interval), not a whole interval later.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

import httpx
import redis.asyncio as aioredis
import redis.exceptions
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from turnout.config.store import GraphStore
from turnout.control.db import Pool, connection, open_pool
from turnout.control.errors import ControlError, ControlUnavailable
from turnout.control.publisher import Publisher
from turnout.edge.graph import GraphHolder
from turnout.governor.leader import Leadership
from turnout.governor.settings import GovernorSettings
from turnout.governor.tick import ClickHouse, Task, Tick

log = logging.getLogger(__name__)
_REDIS_TIMEOUT_S = 2.0
Clock = Callable[[], float]


class Governor:
    def __init__(self, settings: GovernorSettings, tasks: Sequence[Task],
                 make_clickhouse: Callable[[], Any], *, clock: Clock = time.time) -> None:
        if settings.postgres_url is None:
            raise ControlError("TURNOUT_POSTGRES_URL is not set: the governor acts through "
                               "the control plane")
        self.settings = settings
        self.tasks = tuple(tasks)
        self._clock = clock
        self._make_clickhouse = make_clickhouse
        # redis-py does not retry behind the passes' own backoff, and a dead Redis fails a
        # call within the timeouts instead of hanging the pass.
        self.redis: aioredis.Redis = aioredis.from_url(
            settings.redis_url, socket_timeout=_REDIS_TIMEOUT_S,
            socket_connect_timeout=_REDIS_TIMEOUT_S, retry=Retry(NoBackoff(), 0))
        self.leadership = Leadership(self.redis, settings.graph_prefix, settings.lease_s)
        self.graph = GraphHolder(settings.redis_url, settings.graph_prefix,
                                 backoff=settings.reconnect)
        self.clickhouse = ClickHouse(make_clickhouse, settings.database)
        self.pool: Pool | None = None
        self.publisher: Publisher | None = None
        self.http = httpx.AsyncClient(timeout=settings.http_timeout_s, follow_redirects=False)
        self.passes = 0
        self.skipped = 0  # passes skipped because Redis or PostgreSQL was unreachable
        self.errors: dict[str, int] = {task.name: 0 for task in self.tasks}
        self.seconds: dict[str, float] = {task.name: 0.0 for task in self.tasks}
        self.last_pass_at = 0.0
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    # -- lifecycle --------------------------------------------------------------------

    async def start(self, run_loop: bool = True) -> None:
        """Connect and follow the graph; with `run_loop`, pass every interval_s (tests
        call `run_pass` themselves, with the time they want)."""
        assert self.settings.postgres_url is not None
        self.pool = await open_pool(self.settings.postgres_url, max_size=4)
        self.publisher = Publisher(lambda: connection(self._pool()),
                                   GraphStore(self.redis, self.settings.graph_prefix,
                                              self.settings.graph_retain),
                                   backoff=self.settings.reconnect)
        await self.publisher.start()
        await self.graph.start(wait=5.0)
        if run_loop:
            self._task = asyncio.create_task(self._run(), name="turnout-governor")

    async def stop(self) -> None:
        self._stopping.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self._settle()
        with contextlib.suppress(redis.exceptions.RedisError, OSError):
            await self.leadership.release()
        if self.publisher is not None:
            await self.publisher.stop()
        await self.graph.stop()
        await self.http.aclose()
        self.clickhouse.close()
        if self.pool is not None:
            await self.pool.close()
        await self.redis.aclose()

    async def _settle(self) -> None:
        """Let tasks with requests in flight (postbacks) have them answered and recorded,
        for up to the HTTP timeout and a margin, so a clean stop sends nothing twice."""
        for task in self.tasks:
            settle = getattr(task, "settle", None)
            if settle is None:
                continue
            try:
                async with asyncio.timeout(self.settings.http_timeout_s + 5.0):
                    await settle()
            except Exception:  # a stop must finish; what is left is retried by claim expiry
                log.exception("governor: task %s did not settle before the stop", task.name)

    def _pool(self) -> Pool:
        assert self.pool is not None, "start() first"
        return self.pool

    # -- passes ------------------------------------------------------------------------

    async def _run(self) -> None:
        backoff, failures = self.settings.reconnect, 0
        while not self._stopping.is_set():
            started = time.monotonic()
            try:
                await self.run_pass()
            except (redis.exceptions.RedisError, OSError) as exc:
                self.leadership.epoch = 0
                self._skipped(failures, f"Redis is unreachable ({exc}); not leading")
                failures += 1
            except ControlUnavailable as exc:
                self._skipped(failures, str(exc))
                failures += 1
            else:
                if failures:
                    log.info("governor: passing again after %d skipped pass(es)", failures)
                failures = 0
            wait = self.settings.interval_s - (time.monotonic() - started)
            if failures:
                wait = min(wait, backoff.delay(failures - 1))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), max(wait, 0.0))

    def _skipped(self, failures: int, why: str) -> None:
        self.skipped += 1
        if failures == 0:
            log.warning("governor: pass skipped: %s", why)

    async def run_pass(self, now_ms: int | None = None) -> bool:
        """One pass: False when another governor leads (nothing ran)."""
        if not await self.leadership.hold():
            return False
        assert self.publisher is not None
        async with connection(self._pool()) as conn:  # PostgreSQL away: skip the pass
            await conn.execute("SELECT 1")
        snapshot = self.graph.snapshot
        tick = Tick(
            now_ms=int(self._clock() * 1000) if now_ms is None else now_ms,
            epoch=self.leadership.epoch, pool=self._pool(), redis=self.redis,
            prefix=self.settings.graph_prefix, clickhouse=self.clickhouse,
            publisher=self.publisher, http=self.http,
            graph=None if snapshot is None else snapshot.graph,
        )
        renewed = time.monotonic()
        for task in self.tasks:
            if time.monotonic() - renewed > self.settings.lease_s / 3:
                if not await self.leadership.hold():
                    log.warning("governor: lost the lead during a pass; stopping it")
                    return False
                renewed = time.monotonic()
            started = time.monotonic()
            try:
                await task.tick(tick)
            except Exception:  # one task's failure must not stop the others
                self.errors[task.name] += 1
                log.exception("governor: task %s failed", task.name)
            finally:
                self.seconds[task.name] = time.monotonic() - started
        self.passes += 1
        self.last_pass_at = time.time()
        return True

    # -- state for /readyz and /metrics -----------------------------------------------

    async def ready(self) -> tuple[bool, dict[str, Any]]:
        """Can it act: PostgreSQL and Redis answer and a graph is loaded."""
        checks: dict[str, Any] = {"graph_version": self.graph.version}
        try:
            await self.redis.ping()
            checks["redis"] = "ok"
        except (redis.exceptions.RedisError, OSError) as exc:
            checks["redis"] = f"unreachable: {type(exc).__name__}"
        try:
            async with connection(self._pool()) as conn:
                await conn.execute("SELECT 1")
            checks["postgres"] = "ok"
        except ControlError as exc:
            checks["postgres"] = str(exc)
        checks["leading"] = self.leadership.leading
        ok = (checks["redis"] == "ok" and checks["postgres"] == "ok"
              and self.graph.snapshot is not None)
        return ok, checks

    def metrics(self) -> dict[str, float | dict[str, float]]:
        values: dict[str, float | dict[str, float]] = {
            "turnout_governor_leading": float(self.leadership.leading),
            "turnout_governor_epoch": float(self.leadership.epoch),
            "turnout_governor_passes_total": float(self.passes),
            "turnout_governor_passes_skipped_total": float(self.skipped),
            "turnout_governor_last_pass_timestamp_seconds": self.last_pass_at,
            "turnout_governor_graph_version": float(self.graph.version),
            "turnout_governor_task_errors_total": {k: float(v) for k, v in self.errors.items()},
            "turnout_governor_task_seconds": dict(self.seconds),
        }
        for task in self.tasks:
            own = getattr(task, "metrics", None)
            if own is not None:
                values.update(own())
        return values
