"""Per-key rate limits: a token bucket per API key in Redis, one Lua script per request.

Capacity is the key's requests per minute, refilled at that rate / 60 per second
(token_bucket.py is the arithmetic, and the script is it verbatim). The time comes from
the API host's clock, so the script is deterministic for a given input; a bucket's time
only grows, so skewed hosts cannot mint tokens. Redis out of reach: requests pass
unlimited (fail open) rather than the admin and report APIs failing with it; logged once
per outage, and Redis is not asked again for a second after a failure.
"""

from __future__ import annotations

import logging
import time
from typing import Final

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from turnout.api.admin import token_bucket
from turnout.api.admin.token_bucket import Decision, State

log = logging.getLogger(__name__)

DEFAULT_PREFIX: Final = "turnout:ratelimit:"
RETRY_AFTER_FAILURE_S: Final = 1.0
# KEYS[1]: the bucket (a hash: tokens, at). ARGV: capacity, tokens per second, now (s).
# Numbers are written with %.17g, which reads back as the same double.
TAKE: Final = """
local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens, at = tonumber(state[1]), tonumber(state[2])
if tokens == nil or at == nil then
  tokens, at = capacity, now
end
if now > at then
  tokens, at = tokens + (now - at) * rate, now
end
if tokens > capacity then tokens = capacity end
local allowed = 0
if tokens >= 1 then
  tokens, allowed = tokens - 1, 1
end
redis.call('HSET', KEYS[1], 'tokens', string.format('%.17g', tokens),
           'at', string.format('%.17g', at))
redis.call('PEXPIRE', KEYS[1], math.ceil((capacity - tokens) / rate * 1000) + 1000)
return {allowed, string.format('%.17g', tokens), string.format('%.17g', at)}
"""


class RateLimiter:
    def __init__(self, redis_url: str, prefix: str = DEFAULT_PREFIX,
                 timeout_s: float = 0.25) -> None:
        self.prefix = prefix
        self._redis = aioredis.Redis.from_url(redis_url, socket_timeout=timeout_s,
                                              socket_connect_timeout=timeout_s)
        self._script = self._redis.register_script(TAKE)
        self._down_until = 0.0
        self._logged = False

    async def aclose(self) -> None:
        await self._redis.aclose()

    async def raw_take(self, key_id: str, capacity: int, per_second: float,
                       now: float) -> tuple[bool, State]:
        """One run of the script; raises RedisError/OSError when Redis cannot be asked."""
        allowed, tokens, at = await self._script(
            keys=[self.prefix + key_id], args=[capacity, repr(per_second), repr(now)])
        return bool(int(allowed)), State(float(tokens), float(at))

    async def take(self, key_id: str, per_minute: int) -> Decision | None:
        """Take one request from the key's bucket; None when Redis is out of reach (the
        request passes)."""
        if time.monotonic() < self._down_until:
            return None
        rate = token_bucket.per_second(per_minute)
        try:
            allowed, state = await self.raw_take(key_id, per_minute, rate, time.time())
        except (RedisError, OSError) as exc:
            self._down_until = time.monotonic() + RETRY_AFTER_FAILURE_S
            if not self._logged:
                self._logged = True
                log.warning("rate limits are off while Redis is out of reach "
                            "(requests pass unlimited): %s", type(exc).__name__)
            return None
        if self._logged:
            self._logged = False
            log.info("Redis is back: rate limits apply again")
        return token_bucket.decision(allowed, state.tokens, per_minute, rate)
