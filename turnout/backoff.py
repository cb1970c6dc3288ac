"""Capped exponential backoff with full jitter, for everything that reconnects.

After `failures` failed attempts in a row a caller waits a uniform draw from
[0, min(cap, base * 2**failures)): the cap bounds how long a recovered service waits to be
used again, and the jitter spreads the reconnects of many processes that lost it at the
same moment.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Backoff:
    """Capped exponential backoff with full jitter: after `failures` failed attempts in a
    row, wait a uniform draw from [0, min(cap, base * 2**failures)). The jitter spreads
    the reconnects of many edges that lost Redis at the same moment."""

    base: float = 0.1
    cap: float = 10.0

    def __post_init__(self) -> None:
        if not 0 < self.base <= self.cap:
            raise ValueError(f"backoff needs 0 < base <= cap, got {self.base}, {self.cap}")

    def ceiling(self, failures: int) -> float:
        return min(self.cap, self.base * 2.0 ** min(failures, 64))

    def delay(self, failures: int, draw: Callable[[], float] = random.random) -> float:
        return draw() * self.ceiling(failures)
