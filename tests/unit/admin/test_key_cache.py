"""The key cache: one read per key per ttl, the last known key while PostgreSQL is down."""

from __future__ import annotations

import datetime as dt

import pytest

from turnout.api.admin.key_cache import KeyCache
from turnout.api.admin.key_usage import KeyUsage
from turnout.control.errors import ControlUnavailable
from turnout.control.keys import Key, StoredKey

NOW = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
KEY = StoredKey(Key(id="abcdefghijkl", workspace_id="ws", name="", role="viewer",
                    prefix="tk_abcdefghijkl", created_at=NOW, expires_at=None,
                    last_used_at=None, revoked_at=None, rate_per_minute=None), b"\0" * 32)


class Lookup:
    def __init__(self) -> None:
        self.calls, self.down = 0, False

    async def __call__(self, key_id: str) -> StoredKey | None:
        self.calls += 1
        if self.down:
            raise ControlUnavailable("PostgreSQL is unavailable: test")
        return KEY if key_id == KEY.key.id else None


async def test_reads_once_per_ttl_and_forgets_on_demand():
    lookup = Lookup()
    cache = KeyCache(lookup, ttl_s=60)
    assert [await cache.get(KEY.key.id) for _ in range(3)] == [KEY] * 3
    assert await cache.get("unknown") is None and await cache.get("unknown") is None
    assert lookup.calls == 2
    cache.forget(KEY.key.id)
    await cache.get(KEY.key.id)
    assert lookup.calls == 3


async def test_known_keys_outlive_an_outage_unknown_ones_do_not():
    lookup = Lookup()
    cache = KeyCache(lookup, ttl_s=0)
    assert await cache.get(KEY.key.id) == KEY
    lookup.down = True
    assert await cache.get(KEY.key.id) == KEY
    with pytest.raises(ControlUnavailable):
        await cache.get("neverseen")


async def test_during_an_outage_a_known_key_is_asked_for_once_per_ttl():
    lookup = Lookup()
    cache = KeyCache(lookup, ttl_s=60)
    assert await cache.get(KEY.key.id) == KEY
    cache._entries[KEY.key.id] = (0.0, KEY)  # expired
    lookup.down = True
    assert [await cache.get(KEY.key.id) for _ in range(3)] == [KEY] * 3
    assert lookup.calls == 2  # the first read, then one failed read for the three


async def test_a_scan_of_ids_does_not_grow_memory():
    cache = KeyCache(Lookup(), ttl_s=60, max_entries=10)
    for i in range(100):
        await cache.get(f"id{i}")
    assert len(cache._entries) <= 10


async def test_usage_is_written_in_one_batch_and_kept_when_it_fails():
    written: list[dict[str, dt.datetime]] = []
    failing = True

    async def write(used: dict[str, dt.datetime]) -> None:
        if failing:
            raise ControlUnavailable("down")
        written.append(used)

    usage = KeyUsage(write, interval_s=3600)
    usage.note("a", NOW)
    usage.note("b", NOW)
    usage.note("a", NOW + dt.timedelta(seconds=5))
    await usage.flush()
    assert written == []
    failing = False
    await usage.aclose()
    assert written == [{"a": NOW + dt.timedelta(seconds=5), "b": NOW}]
