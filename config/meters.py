"""Meters: what a budget or a daily click cap has handed out, kept in Redis so that every
edge spends from one ledger.

An edge never asks Redis on a click. It takes a block (a lease) ahead of time with
`take`, spends it locally click by click, reports what it spent with `spent`, and gives
back what it did not spend with `give_back` (on drain, when the block sat idle, when the
day turns). `take` is one atomic script that hands out at most `limit - granted`, so the
sum of every edge's blocks never exceeds the limit: no click is served without budget.

Keys (prefix `p`, the graph's, default `turnout:graph`), one hash per meter and period:
  {p}:meter:{kind}:{owner}:{period}
    kind    budget (micro-units of the workspace currency) | campaign_clicks | offer_clicks
    owner   the campaign or offer id
    period  `total`, or the day in the workspace timezone, `2026-12-02`
  fields:
    granted    units handed out net of returns: spend plus blocks edges hold unspent
    spent      units edges reported as spent (served clicks)
    exhausted  1 once a take could not hand out even `min` units: nothing is left
Daily meters expire two days after they are first written; total ones never do.

After a flush of Redis a meter restarts from zero: the governor re-seeds it from counted
spend (ClickHouse) with `seed`, which only ever raises `granted` and `spent`. So that no
edge takes from a meter before that, the ledger has a marker, `{p}:meters-seeded`, which
the governor sets to `seeded` once it has seeded every meter (governor/reseed.py); while it
is missing (a fresh or flushed Redis) or says `seeding`, `take` hands out nothing and says
so (UNSEEDED), and edges wait.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import redis.asyncio as aioredis

KINDS: Final = ("budget", "campaign_clicks", "offer_clicks")
TOTAL: Final = "total"
SEEDED: Final = "seeded"  # the marker's value once every meter is seeded
UNSEEDED: Final = -1  # what `take` answers while the ledger is not seeded
_DAILY_TTL_S: Final = 2 * 86_400

# KEYS: meter, marker. ARGV: limit, want, min, ttl (0: none). Returns the units granted
# (0: none left), or -1 while the ledger is not seeded.
_TAKE: Final = """
if redis.call('GET', KEYS[2]) ~= 'seeded' then return -1 end
local granted = tonumber(redis.call('HGET', KEYS[1], 'granted') or '0')
local left = tonumber(ARGV[1]) - granted
local want = tonumber(ARGV[2])
if left < tonumber(ARGV[3]) then
    redis.call('HSET', KEYS[1], 'exhausted', 1)
    if tonumber(ARGV[4]) > 0 and redis.call('TTL', KEYS[1]) < 0 then
        redis.call('EXPIRE', KEYS[1], ARGV[4])
    end
    return 0
end
if want > left then want = left end
redis.call('HINCRBY', KEYS[1], 'granted', want)
if tonumber(ARGV[4]) > 0 and redis.call('TTL', KEYS[1]) < 0 then
    redis.call('EXPIRE', KEYS[1], ARGV[4])
end
return want
"""

# KEYS: meter. ARGV: units given back, units spent. Returns granted after.
_SETTLE: Final = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local back = tonumber(ARGV[1])
if back > 0 then
    redis.call('HINCRBY', KEYS[1], 'granted', -back)
    redis.call('HSET', KEYS[1], 'exhausted', 0)
end
if tonumber(ARGV[2]) > 0 then redis.call('HINCRBY', KEYS[1], 'spent', ARGV[2]) end
return tonumber(redis.call('HGET', KEYS[1], 'granted') or '0')
"""

# KEYS: meter. ARGV: counted units, ttl (0: none). Raises granted and spent to counted.
_SEED: Final = """
local counted = tonumber(ARGV[1])
for _, field in ipairs({'granted', 'spent'}) do
    local now = tonumber(redis.call('HGET', KEYS[1], field) or '0')
    if now < counted then redis.call('HSET', KEYS[1], field, counted) end
end
if tonumber(ARGV[2]) > 0 and redis.call('TTL', KEYS[1]) < 0 then
    redis.call('EXPIRE', KEYS[1], ARGV[2])
end
return 1
"""


def meter_key(prefix: str, kind: str, owner: str, period: str) -> str:
    """The hash of one meter: `period` is TOTAL or a workspace-local day `YYYY-MM-DD`."""
    if kind not in KINDS:
        raise ValueError(f"unknown meter kind {kind!r}")
    return f"{prefix}:meter:{kind}:{owner}:{period}"


def seeded_key(prefix: str) -> str:
    """The ledger's marker: SEEDED once the governor seeded every meter from counted spend."""
    return f"{prefix}:meters-seeded"


def _ttl(period: str) -> int:
    return 0 if period == TOTAL else _DAILY_TTL_S


@dataclass(frozen=True, slots=True)
class Reading:
    granted: int  # handed out net of returns
    spent: int  # reported spent
    exhausted: bool  # a take found nothing left


class Meters:
    """The meter scripts on one Redis connection (edges and the governor share the code)."""

    def __init__(self, redis: aioredis.Redis, prefix: str) -> None:
        self.prefix = prefix
        self._redis = redis
        self._take = redis.register_script(_TAKE)
        self._settle = redis.register_script(_SETTLE)
        self._seed = redis.register_script(_SEED)

    def key(self, kind: str, owner: str, period: str) -> str:
        return meter_key(self.prefix, kind, owner, period)

    async def take(self, key: str, *, limit: int, want: int, least: int = 1) -> int:
        """A block of at most `want` units, never more than `limit - granted`; 0 when fewer
        than `least` units are left (and the meter is marked exhausted); UNSEEDED while the
        ledger's marker is not SEEDED."""
        if want < least or least < 1:
            raise ValueError("take wants at least `least` >= 1 units")
        period = key.rsplit(":", 1)[-1]
        return int(await self._take(keys=[key, seeded_key(self.prefix)],
                                    args=[limit, want, least, _ttl(period)]))

    async def settle(self, key: str, *, given_back: int = 0, spent: int = 0) -> int:
        """Report `spent` units and give back `given_back` unspent ones; granted after."""
        if given_back < 0 or spent < 0:
            raise ValueError("units given back and spent are >= 0")
        return int(await self._settle(keys=[key], args=[given_back, spent]))

    async def seed(self, key: str, counted: int) -> None:
        """Raise the meter to `counted` units (what ClickHouse counted), never lower it."""
        period = key.rsplit(":", 1)[-1]
        await self._seed(keys=[key], args=[counted, _ttl(period)])

    async def read(self, key: str) -> Reading:
        values = await self._redis.hmget(key, ["granted", "spent", "exhausted"])
        granted, spent, exhausted = (int(v) if v is not None else 0 for v in values)
        return Reading(granted, spent, bool(exhausted))
