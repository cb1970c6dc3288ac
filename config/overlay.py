"""The overlay: the governor's small verdicts the edges follow next to the graph, so a cap
or a block takes effect in a second without publishing (and recompiling) a graph version.

Keys (prefix `p`, the graph's):
  {p}:overlay          JSON: {"seq": n, "capped_offers": {id: Verdict},
                              "blocked_campaigns": {id: Verdict}}
  {p}:overlay:verdicts the same verdicts without seq, as written (to tell a change)
  {p}:overlay:changed  pub/sub channel carrying each new seq

A capped offer hands its traffic to its fallback offer (or its destinations are skipped, so
the rule falls through, as for an unavailable destination); a blocked campaign answers as
an inactive one. A verdict may carry `until_ms`: past it, edges ignore the verdict by
themselves (a daily cap ends at the workspace's midnight even if no governor runs).

Only the leading governor writes; it writes the whole overlay, and only when it changed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

import msgspec
import redis.asyncio as aioredis

REASONS: Final = ("conversion_cap", "click_cap", "budget")


class Verdict(msgspec.Struct, frozen=True, omit_defaults=True):
    reason: str  # conversion_cap | click_cap | budget
    until_ms: int | None = None  # the verdict lapses at this instant (None: until lifted)


class Overlay(msgspec.Struct, frozen=True, omit_defaults=True):
    seq: int = 0
    capped_offers: dict[str, Verdict] = {}
    blocked_campaigns: dict[str, Verdict] = {}

    def active(self, now_ms: int) -> Current:
        """The verdicts in force at `now_ms`."""
        return Current(
            frozenset(k for k, v in self.capped_offers.items() if _holds(v, now_ms)),
            frozenset(k for k, v in self.blocked_campaigns.items() if _holds(v, now_ms)),
        )


@dataclass(frozen=True, slots=True)
class Current:
    capped_offers: frozenset[str] = field(default_factory=frozenset)
    blocked_campaigns: frozenset[str] = field(default_factory=frozenset)


def _holds(verdict: Verdict, now_ms: int) -> bool:
    return verdict.until_ms is None or now_ms < verdict.until_ms


_ENCODER: Final = msgspec.json.Encoder()
_DECODER: Final = msgspec.json.Decoder(Overlay)

# KEYS: overlay, verdicts, channel. ARGV: the verdicts' JSON (an Overlay with seq 0, which
# the encoder leaves out). Writes the overlay with the next seq only when the verdicts
# differ from those stored; returns the seq in force.
_WRITE: Final = """
local before = redis.call('GET', KEYS[2])
local seq = tonumber(string.match(redis.call('GET', KEYS[1]) or '', '"seq":(%d+)') or '0')
if before == ARGV[1] then return seq end
seq = seq + 1
local rest = string.sub(ARGV[1], 2)
if rest ~= '}' then rest = ',' .. rest end
redis.call('SET', KEYS[1], '{"seq":' .. seq .. rest)
redis.call('SET', KEYS[2], ARGV[1])
redis.call('PUBLISH', KEYS[3], seq)
return seq
"""


def overlay_key(prefix: str) -> str:
    return f"{prefix}:overlay"


def channel(prefix: str) -> str:
    return f"{prefix}:overlay:changed"


def decode(raw: bytes | str | None) -> Overlay:
    """The overlay stored in Redis (an empty one when there is none)."""
    return Overlay() if raw is None else _DECODER.decode(raw)


async def read(redis: aioredis.Redis, prefix: str) -> Overlay:
    return decode(await redis.get(overlay_key(prefix)))


async def write(redis: aioredis.Redis, prefix: str, capped_offers: dict[str, Verdict],
                blocked_campaigns: dict[str, Verdict]) -> int:
    """Replace the overlay with these verdicts (a new seq only if they changed): the seq."""
    body = _ENCODER.encode(Overlay(0, dict(sorted(capped_offers.items())),
                                   dict(sorted(blocked_campaigns.items()))))
    script = redis.register_script(_WRITE)
    keys = [overlay_key(prefix), f"{overlay_key(prefix)}:verdicts", channel(prefix)]
    return int(await script(keys=keys, args=[body]))
