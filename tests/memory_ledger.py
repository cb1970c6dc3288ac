"""The meter scripts' arithmetic (config.meters) in memory, for unit tests of what uses
them without Redis: take hands out at most limit - granted, settle gives back and reports."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Meter:
    granted: int = 0
    spent: int = 0
    exhausted: bool = False


@dataclass
class MemoryLedger:
    meters: dict[str, Meter] = field(default_factory=dict)
    limits: dict[str, int] = field(default_factory=dict)  # the last limit each take named
    down: bool = False  # every call raises ConnectionError, as an unreachable Redis

    def _check(self) -> None:
        if self.down:
            raise ConnectionError("ledger down")

    async def take(self, key: str, *, limit: int, want: int, least: int = 1) -> int:
        self._check()
        meter = self.meters.setdefault(key, Meter())
        self.limits[key] = limit
        left = limit - meter.granted
        if left < least:
            meter.exhausted = True
            return 0
        got = min(want, left)
        meter.granted += got
        return got

    async def settle(self, key: str, *, given_back: int = 0, spent: int = 0) -> int:
        self._check()
        meter = self.meters.get(key)
        if meter is None:
            return 0
        if given_back:
            meter.granted -= given_back
            meter.exhausted = False
        meter.spent += spent
        return meter.granted
