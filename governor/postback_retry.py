"""When a postback is tried again: the verdict on one answer (governor/retry.py says which
answers are worth another attempt) and where the postback goes next."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Final

from turnout.governor import retry
from turnout.governor.postback_settings import PostbackSettings
from turnout.governor.retry import retriable

DELIVERED: Final = "delivered"
RETRY: Final = "retry"
FAILED: Final = "failed"


def verdict(http_status: int | None) -> str:
    """delivered | retry | failed for an answer with `http_status` (None: no answer — a
    timeout or a connection error). A redirect is an answer: the source got the request
    (postbacks are server to server, redirects are not followed)."""
    if retriable(http_status):
        return RETRY
    return FAILED if http_status >= 400 else DELIVERED


def backoff_ms(attempt: int, settings: PostbackSettings, rng: random.Random) -> int:
    """The delay after failed attempt number `attempt` (1-based) before the next one."""
    return retry.backoff_ms(attempt, settings.backoff_base_s, settings.backoff_cap_s, rng)


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
