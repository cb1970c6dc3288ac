"""Keys as the auth middleware sees them: read from PostgreSQL, kept a few seconds.

A key looked up within `ttl_s` is not read again, so a burst of requests costs one query;
a revocation made by this process applies at once (`forget`), one made by another API
process within `ttl_s`. While PostgreSQL is out of reach the last known state of a key is
used however old it is, and is not asked for again for `ttl_s` (each lookup waits the
pool's timeout), so report requests with known keys keep being served without waiting; a
key never seen before cannot be checked then (ControlUnavailable: 503).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Final

from turnout.control.errors import ControlUnavailable
from turnout.control.keys import StoredKey

Lookup = Callable[[str], Awaitable[StoredKey | None]]
MAX_ENTRIES: Final = 10_000


class KeyCache:
    def __init__(self, lookup: Lookup, ttl_s: float, max_entries: int = MAX_ENTRIES) -> None:
        self._lookup = lookup
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._entries: dict[str, tuple[float, StoredKey | None]] = {}

    async def get(self, key_id: str) -> StoredKey | None:
        now = time.monotonic()
        cached = self._entries.get(key_id)
        if cached is not None and now - cached[0] < self.ttl_s:
            return cached[1]
        try:
            key = await self._lookup(key_id)
        except ControlUnavailable:
            if cached is None:
                raise
            self._entries[key_id] = (time.monotonic(), cached[1])
            return cached[1]
        if len(self._entries) >= self.max_entries and key_id not in self._entries:
            self._entries.clear()  # unknown ids from a scan must not grow memory
        self._entries[key_id] = (now, key)
        return key

    def forget(self, key_id: str) -> None:
        self._entries.pop(key_id, None)
