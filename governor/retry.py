"""When an outgoing request (a postback, a webhook) is tried again.

Timeouts, connection errors, 5xx, 408 and 429 are worth another attempt; any other 4xx
says the request itself is wrong, so it fails at once. Retries back off exponentially
(base x 2^(n-1), capped) with jitter taking up to half of each delay off, so what a
receiver's outage held back does not all come back in the same second.
"""

from __future__ import annotations

import random
from typing import Final

RETRIABLE_4XX: Final = frozenset({408, 429})  # "try later", in so many words


def retriable(http_status: int | None) -> bool:
    """Is an answer with `http_status` (None: no answer — a timeout or a connection
    error) worth another attempt?"""
    return http_status is None or http_status >= 500 or http_status in RETRIABLE_4XX


def backoff_ms(attempt: int, base_s: float, cap_s: float, rng: random.Random) -> int:
    """The delay after failed attempt number `attempt` (1-based) before the next one."""
    full = min(cap_s, base_s * 2.0 ** min(attempt - 1, 62))
    return round(full * 1000 * (1.0 - rng.random() / 2))
