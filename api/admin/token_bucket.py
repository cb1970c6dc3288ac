"""Token bucket arithmetic: the model ratelimit.py's Lua script runs in Redis, and the
RateLimit-* header values computed from what the script answers.

A bucket holds up to `capacity` tokens and gains `per_second` of them per second; a
request takes one, or is refused when less than one is left. State is (tokens, at): the
count at time `at`. Time never runs backwards for a bucket (`at` only grows), so two API
hosts with slightly different clocks cannot mint tokens between them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class State:
    tokens: float
    at: float


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    """Whole tokens left after this request."""
    reset_s: int
    """Seconds until the bucket is full again."""
    retry_after_s: int
    """Seconds until a refused request may succeed (>= 1); 0 when allowed."""

    def headers(self) -> dict[str, str]:
        headers = {"RateLimit-Limit": str(self.limit),
                   "RateLimit-Remaining": str(self.remaining),
                   "RateLimit-Reset": str(self.reset_s)}
        if not self.allowed:
            headers["Retry-After"] = str(self.retry_after_s)
        return headers


def take(state: State | None, now: float, capacity: int, per_second: float
         ) -> tuple[bool, State]:
    """Refill by the time elapsed since `state.at`, then take one token if there is one.
    A new bucket (None) starts full. The Lua script in ratelimit.py is this, line by line."""
    if state is None:
        tokens, at = float(capacity), now
    else:
        tokens, at = state.tokens, state.at
    if now > at:
        tokens, at = tokens + (now - at) * per_second, now
    tokens = min(float(capacity), tokens)
    allowed = tokens >= 1
    if allowed:
        tokens -= 1
    return allowed, State(tokens, at)


def decision(allowed: bool, tokens: float, capacity: int, per_second: float) -> Decision:
    """What the client is told, from the tokens left after the request."""
    reset = math.ceil((capacity - tokens) / per_second) if tokens < capacity else 0
    retry = 0 if allowed else _seconds_to_a_token(tokens, per_second)
    return Decision(allowed, capacity, max(0, math.floor(tokens)), max(0, reset), retry)


def _seconds_to_a_token(tokens: float, per_second: float) -> int:
    """The fewest whole seconds (>= 1) after which `take` finds a token: the quotient's
    ceiling, corrected by one either way where float rounding puts it off (1/3 of a token
    at 1 a minute is 40.000000000000007 s by division, 40 s by take's own sum)."""
    seconds = max(1, math.ceil((1 - tokens) / per_second))
    if seconds > 1 and tokens + (seconds - 1) * per_second >= 1:
        seconds -= 1
    elif tokens + seconds * per_second < 1:
        seconds += 1
    return seconds


def per_second(per_minute: int) -> float:
    return per_minute / 60.0
