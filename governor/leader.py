"""One governor leads: a Redis lock with a lease, renewed while it runs.

Keys (the graph's prefix `p`):
  {p}:governor:leader  "holder epoch", expiring after the lease unless renewed
  {p}:governor:epoch   INCR counter: each new leadership gets the next epoch

A holder that finds the lock free (or its own) takes or renews it atomically; any other
waits. A leader killed outright (SIGKILL) stops renewing, so another takes over within one
lease. The lease alone cannot stop a leader that stalled past it from finishing a pass
beside its successor, so nothing rests on it for correctness: every action claims its
occasion in PostgreSQL (governor/once.py) in the transaction that acts, and the epoch is
recorded with each claim for the audit trail.
"""

from __future__ import annotations

import os
import socket
import uuid
from typing import Final

import redis.asyncio as aioredis

# KEYS: lock, epoch counter. ARGV: holder, lease ms. Returns the epoch held, or 0.
_HOLD: Final = """
local held = redis.call('GET', KEYS[1])
if held then
    local holder, epoch = string.match(held, '^(%S+) (%d+)$')
    if holder ~= ARGV[1] then return 0 end
    redis.call('PEXPIRE', KEYS[1], ARGV[2])
    return tonumber(epoch)
end
local epoch = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], ARGV[1] .. ' ' .. epoch, 'PX', ARGV[2])
return epoch
"""

# KEYS: lock. ARGV: holder. Deletes the lock only if this holder has it.
_RELEASE: Final = """
local held = redis.call('GET', KEYS[1])
if held and string.match(held, '^(%S+) ') == ARGV[1] then
    return redis.call('DEL', KEYS[1])
end
return 0
"""


def holder_id() -> str:
    """This process's name in the lock: host, pid and a random part (pids repeat)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Leadership:
    def __init__(self, redis: aioredis.Redis, prefix: str, lease_s: float,
                 holder: str | None = None) -> None:
        self.holder = holder or holder_id()
        self.epoch = 0  # the epoch held; 0 while not leading
        self._keys = [f"{prefix}:governor:leader", f"{prefix}:governor:epoch"]
        self._lease_ms = max(1, int(lease_s * 1000))
        self._hold = redis.register_script(_HOLD)
        self._release = redis.register_script(_RELEASE)

    @property
    def leading(self) -> bool:
        return self.epoch > 0

    async def hold(self) -> int:
        """Take or renew the lock: the epoch held, 0 when another governor leads."""
        self.epoch = int(await self._hold(keys=self._keys, args=[self.holder, self._lease_ms]))
        return self.epoch

    async def release(self) -> None:
        """Give the lock up (on a clean stop), so a successor need not wait out the lease."""
        self.epoch = 0
        await self._release(keys=self._keys[:1], args=[self.holder])
