"""When a postback is tried again: the verdict on one answer and the backoff schedule.

Timeouts, connection errors, 5xx, 408 and 429 are worth another attempt; any other 4xx
says the request itself is wrong, so it fails at once. Retries back off exponentially
(base x 2^(n-1), capped) with jitter taking up to half of each delay off, so the postbacks
a receiver's outage held back do not all come back in the same second.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Final

from turnout.governor.postback_settings import PostbackSettings

DELIVERED: Final = "delivered"
RETRY: Final = "retry"
FAILED: Final = "failed"
_RETRIABLE_4XX: Final = frozenset({408, 429})  # "try later", in so many words


def verdict(http_status: int | None) -> str:
    """delivered | retry | failed for an answer with `http_status` (None: no answer — a
    timeout or a connection error). A redirect is an answer: the source got the request
    (postbacks are server to server, redirects are not followed)."""
    if http_status is None or http_status >= 500 or http_status in _RETRIABLE_4XX:
        return RETRY
    return FAILED if http_status >= 400 else DELIVERED


def backoff_ms(attempt: int, settings: PostbackSettings, rng: random.Random) -> int:
    """The delay after failed attempt number `attempt` (1-based) before the next one."""
    full = min(settings.backoff_cap_s, settings.backoff_base_s * 2.0 ** (attempt - 1))
    return round(full * 1000 * (1.0 - rng.random() / 2))


@dataclass(frozen=True, slots=True)
class Next:
    state: str  # delivered | pending (another attempt at next_at_ms) | failed
    next_at_ms: int
    outcome: str  # delivered | retry | failed, as postback_deliveries records it


def after(attempt: int, answer: str, *, created_ms: int, now_ms: int,
          settings: PostbackSettings, rng: random.Random) -> Next:
    """Where a postback goes after attempt `attempt` got `answer` (a `verdict`): a retry
    that would be past the attempts or the window fails instead."""
    if answer == DELIVERED:
        return Next(DELIVERED, now_ms, DELIVERED)
    if answer == RETRY and attempt < settings.attempts:
        due = now_ms + backoff_ms(attempt, settings, rng)
        if due <= created_ms + settings.window_s * 1000:
            return Next("pending", due, RETRY)
    return Next(FAILED, now_ms, FAILED)
