"""`last_used_at` of API keys, written at most once a minute per process, not per request.

The middleware notes each use in memory; a background task writes every key used since
the last write in one UPDATE. So `last_used_at` lags the truth by up to `interval_s`.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)

Writer = Callable[[dict[str, dt.datetime]], Awaitable[None]]


class KeyUsage:
    def __init__(self, write: Writer, interval_s: float = 60.0) -> None:
        self._write = write
        self.interval_s = interval_s
        self._pending: dict[str, dt.datetime] = {}
        self._task: asyncio.Task[None] | None = None

    def note(self, key_id: str, at: dt.datetime | None = None) -> None:
        self._pending[key_id] = at or dt.datetime.now(dt.UTC)
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def flush(self) -> None:
        """Write what is pending now; kept for the next round if PostgreSQL fails."""
        pending, self._pending = self._pending, {}
        if not pending:
            return
        try:
            await self._write(pending)
        except Exception as exc:
            for key_id, at in pending.items():
                self._pending.setdefault(key_id, at)
            log.warning("could not record API key use: %s", exc)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            await self.flush()

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.flush()
