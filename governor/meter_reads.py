"""Many meters read in one round trip (the governor reads every budgeted campaign's and
capped offer's meter each pass)."""

from __future__ import annotations

from collections.abc import Sequence

import redis.asyncio as aioredis

from turnout.config.meters import Reading


async def read_meters(redis: aioredis.Redis, keys: Sequence[str]) -> list[Reading]:
    """The readings of `keys`, in order (a meter never written reads all zero)."""
    if not keys:
        return []
    async with redis.pipeline(transaction=False) as pipe:
        for key in keys:
            pipe.hmget(key, ["granted", "spent", "exhausted"])
        found = await pipe.execute()
    return [Reading(*(int(v) if v is not None else 0 for v in values[:2]),
                    bool(int(values[2] or 0))) for values in found]
