"""Following the governor's overlay (config.overlay) on the edge.

Read at start, then again on every notice on `{prefix}:overlay:changed` and every
`poll_seconds` in case a notice is lost (or Redis was away). What is in force now
(`Overlay.active`) goes to the graph holder (edge.graph.GraphHolder.apply: capped offers
hand their traffic to their fallbacks, blocked campaigns answer as inactive). A verdict
with `until_ms` lapses by itself: the follower wakes at the earliest `until_ms` and applies
what is left, with no governor needed. While Redis is away the verdicts in force stay, and
it is tried again after a capped, jittered backoff (turnout.backoff).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Final

import redis.asyncio as aioredis
import redis.exceptions

from turnout.backoff import Backoff
from turnout.config import overlay
from turnout.config.overlay import Current, Overlay

log = logging.getLogger(__name__)

_UNREACHABLE: Final = (redis.exceptions.RedisError, OSError)


def in_force(current: Overlay, now_ms: int) -> tuple[Current, int | None]:
    """The verdicts in force at `now_ms`, and the next instant one of them lapses (None:
    none will by itself)."""
    ends = [v.until_ms for v in (*current.capped_offers.values(),
                                 *current.blocked_campaigns.values())
            if v.until_ms is not None and v.until_ms > now_ms]
    return current.active(now_ms), min(ends, default=None)


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class OverlayFollower:
    def __init__(self, redis: aioredis.Redis, prefix: str,
                 apply: Callable[[Current], Awaitable[None]], poll_seconds: float = 2.0,
                 clock: Callable[[], int] = _now_ms, backoff: Backoff | None = None) -> None:
        self._redis, self._prefix, self._apply = redis, prefix, apply
        self._poll = poll_seconds
        self._backoff = backoff or Backoff(base=0.1, cap=max(0.1, poll_seconds))
        self._clock = clock
        self.overlay = Overlay()
        self.current = Current()
        self.reads = 0
        self._task: asyncio.Task[None] | None = None

    @property
    def seq(self) -> int:
        return self.overlay.seq

    async def refresh(self, read: bool = True) -> int | None:
        """Read the overlay (unless `read` is False: only time moved), apply what is in
        force; the next instant a verdict lapses."""
        if read:
            self.overlay = await overlay.read(self._redis, self._prefix)
            self.reads += 1
        current, due = in_force(self.overlay, self._clock())
        if current != self.current:
            await self._apply(current)
            self.current = current
        return due

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._follow(), name="overlay")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _follow(self) -> None:
        failures = 0
        while True:
            pubsub = self._redis.pubsub()
            try:
                await pubsub.subscribe(overlay.channel(self._prefix))
                due = await self.refresh()
                if failures:
                    log.info("overlay readable again after %d failed attempt(s)", failures)
                failures = 0
                while True:
                    wait = self._poll
                    if due is not None:
                        wait = max(0.0, min(wait, (due - self._clock()) / 1000))
                    message = await pubsub.get_message(ignore_subscribe_messages=True,
                                                       timeout=wait)
                    lapsed = due is not None and self._clock() >= due
                    if message is not None or not lapsed:
                        due = await self.refresh()  # a notice, or the poll
                    else:
                        due = await self.refresh(read=False)
            except _UNREACHABLE as exc:
                if failures == 0:
                    log.warning("overlay not readable (%s); keeping %d verdict(s)", exc,
                                len(self.current.capped_offers)
                                + len(self.current.blocked_campaigns))
                await self._apply_lapses()
                await asyncio.sleep(self._backoff.delay(failures))
                failures += 1
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("overlay follower failed; retrying")
                await asyncio.sleep(self._poll)
            finally:
                with contextlib.suppress(*_UNREACHABLE):
                    await pubsub.aclose()

    async def _apply_lapses(self) -> None:
        """Without Redis, verdicts still lapse at their until_ms."""
        with contextlib.suppress(Exception):
            await self.refresh(read=False)
