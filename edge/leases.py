"""Leases: the edge's local balances of the Redis meters (config.meters), so a click spends
budget and click caps without a round trip.

Per meter (a budget, a campaign's or an offer's daily click cap, for one period) the edge
holds a balance taken from Redis in blocks. The click path (synchronous) only ever spends
from that balance: `spend` is a comparison and two additions. Everything that talks to
Redis runs in one background task (`run`):

- refills: when a balance drops below `low_water` of its last block, or a click found it
  empty, the next block is taken: about `block_seconds` of the meter's recent demand
  (clicks served and refused), between `min_block` and `max_block` clicks' worth; the
  first block, before any rate is known, is `max_block` (the meter's last blocks shrink
  to what is left: `take` never hands out more than the limit minus what is granted);
- settles: spent units are reported every `settle_ms` (and with each refill);
- returns: a balance idle for `idle_ms` goes back down to one minimum block (all of it
  once the meter is known exhausted, so other edges can spend it); a balance goes back
  whole when its day is over, when its campaign or offer leaves the graph or its limit
  changes, and on drain (SIGTERM, `close`).

A meter is prefetched when a graph naming it is installed, so its first clicks find a
balance. A click finding an empty balance is refused (answered as over budget or cap; the
reason is counted in `turnout_edge_lease_refused_total{reason}`):
  refilling    a take is under way (or about to be): under a burst that outruns the
               refills, or for the first clicks of a day, some clicks are refused while
               budget is left; they are lost to the campaign, not served unpaid
  exhausted    the meter's last take found nothing left (asked again every `recheck_ms`,
               as other edges may give units back)
  unreachable  Redis did not answer the last take: with Redis down the edge serves from
               the balances it holds and refuses the rest; no click is served unleased
  unseeded     the ledger has no `seeded` marker (config.meters): Redis is fresh or was
               flushed, and the governor has not yet seeded the meters from counted spend;
               the edge drops what it held (it was granted by a ledger that is gone) and
               waits for the seed

Bounds (measured in tests/integration/test_edge_leases.py):
  overshoot   0: every served click was paid from a block handed out atomically under the
              limit. Exception: a flush of Redis (FLUSHALL, a failover without the data)
              drops the ledger while edges hold blocks. No edge takes again before the
              governor re-seeded the meters from counted spend (the marker), and an edge
              drops its held blocks at its next take; what it served from them before that
              take (at most its balance: <= max_block per edge) and spend not yet counted
              by ClickHouse at the seed (the ingest lag) can go over the limit.
  undershoot  at most the blocks held by edges that die without returning them (SIGKILL)
              or are cut off from Redis, i.e. edges x max_block, until the day turns (daily
              meters) — for a total budget, until an operator raises it; plus the clicks
              refused while a refill was in flight (above).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Protocol

import redis.exceptions

from turnout.backoff import Backoff
from turnout.config.meters import UNSEEDED

log = logging.getLogger(__name__)

REASONS: Final = ("refilling", "exhausted", "unreachable", "unseeded")
_UNREACHABLE: Final = (redis.exceptions.RedisError, OSError)


class Ledger(Protocol):
    """The meter scripts an edge uses (config.meters.Meters)."""

    async def take(self, key: str, *, limit: int, want: int, least: int = 1) -> int: ...

    async def settle(self, key: str, *, given_back: int = 0, spent: int = 0) -> int: ...


@dataclass(frozen=True, slots=True)
class LeaseSettings:
    block_seconds: float = 1.0  # a block lasts about this long at the meter's recent rate
    min_block: int = 50  # clicks' worth
    max_block: int = 500  # clicks' worth
    low_water: float = 0.5  # of the last block: refill below it
    settle_ms: int = 250  # spent units are reported this often
    idle_ms: int = 5_000  # a balance untouched this long goes back (to one minimum block)
    recheck_ms: int = 1_000  # an exhausted or unreachable meter is asked again this often

    def __post_init__(self) -> None:
        if not 1 <= self.min_block <= self.max_block:
            raise ValueError("leases need 1 <= min_block <= max_block")
        if not 0 < self.low_water <= 1 or self.block_seconds <= 0:
            raise ValueError("leases need 0 < low_water <= 1 and block_seconds > 0")


class Lease:
    """One meter's local balance. `taken - returned - spent == balance` at all times, where
    `spent` counts units served (reported to Redis or still `pending`)."""

    __slots__ = ("balance", "block", "ends_ms", "exhausted", "key", "kind", "last_ms", "limit",
                 "owner", "pending", "rate_since_ms", "rate_used", "retired", "retry_ms",
                 "returned", "spent", "taken", "unit", "unreachable", "unseeded", "wanted")

    def __init__(self, key: str, kind: str, owner: str, limit: int, unit: int, now_ms: int,
                 ends_ms: int | None) -> None:
        self.key, self.kind, self.owner = key, kind, owner
        self.limit = limit
        self.unit = max(1, unit)  # one click's units (the last click's cost for a budget)
        self.ends_ms = ends_ms  # a daily meter's day ends then (None: a total meter)
        self.balance = 0
        self.pending = 0  # spent, not yet reported
        self.taken = self.returned = self.spent = 0
        self.block = 0  # the last block asked for
        self.last_ms = now_ms
        self.rate_since_ms, self.rate_used = now_ms, 0
        self.wanted = False  # a refill is due or under way
        self.exhausted = False
        self.unreachable = False
        self.unseeded = False  # the ledger's last answer: not seeded (config.meters)
        self.retry_ms = 0
        self.retired = False

    @property
    def reason(self) -> str:
        """Why a click found this balance empty."""
        if self.exhausted:
            return "exhausted"
        if self.unseeded:
            return "unseeded"
        return "unreachable" if self.unreachable else "refilling"


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class Leases:
    """Every lease of one edge process, and the task that keeps them (`run`)."""

    def __init__(self, ledger: Ledger, settings: LeaseSettings | None = None,
                 clock: Callable[[], int] = _now_ms, backoff: Backoff | None = None) -> None:
        self.settings = settings or LeaseSettings()
        # Takes that failed in a row for Redis being away (any meter's): the next is tried
        # after this backoff's delay for that many failures (None: after recheck_ms).
        self._backoff = backoff
        self._failures = 0
        self._ledger = ledger
        self._clock = clock
        self._leases: dict[str, Lease] = {}
        self._retiring: list[Lease] = []  # to give back whole, then forget
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.refused = dict.fromkeys(REASONS, 0)
        self.takes = self.take_failures = self.settle_failures = 0
        self.given_back = 0  # leases' units returned, all meters (a count, not money)
        self.lost = 0  # units given back while Redis did not answer (maybe never returned)

    def now_ms(self) -> int:
        return self._clock()

    # -- the click path (synchronous) ------------------------------------------------

    def lease(self, key: str, kind: str, owner: str, limit: int, unit: int, now_ms: int,
              ends_ms: int | None = None) -> Lease:
        """The lease of meter `key` (made, and a first block asked for, on first use; made
        again when its limit changed, the old one given back whole)."""
        lease = self._leases.get(key)
        if lease is not None and lease.limit != limit:
            self._retire(lease)
            lease = None
        if lease is None:
            lease = self._leases[key] = Lease(key, kind, owner, limit, unit, now_ms, ends_ms)
            self._want(lease)
        return lease

    def _retire(self, lease: Lease) -> None:
        lease.retired = True
        if self._leases.get(lease.key) is lease:
            del self._leases[lease.key]
        self._retiring.append(lease)
        self._wake.set()

    def spend(self, lease: Lease, units: int, now_ms: int) -> bool:
        """Spend `units` from the local balance: False (nothing spent) when it lacks them."""
        lease.last_ms = now_ms
        lease.unit = units or 1
        if lease.balance >= units and not lease.retired:
            lease.balance -= units
            lease.pending += units
            lease.spent += units
            lease.rate_used += units
            if not lease.wanted and lease.balance < lease.block * self.settings.low_water:
                self._want(lease)
            return True
        self.refused[lease.reason] += 1
        # Refused demand counts in the rate blocks are sized by: a burst that found the
        # balance empty gets a block for the burst, not for what little was served.
        lease.rate_used += units
        if not lease.wanted:
            self._want(lease)
        return False

    def refund(self, lease: Lease, units: int) -> None:
        """Undo a `spend` of the same click (a later check refused it)."""
        lease.balance += units
        lease.pending -= units
        lease.spent -= units
        lease.rate_used -= units

    def _want(self, lease: Lease) -> None:
        lease.wanted = True
        self._wake.set()

    # -- graph changes ---------------------------------------------------------------

    def retire_except(self, live: set[tuple[str, str]]) -> None:
        """Give back the leases whose (kind, owner) is not in `live` (the installed graph's
        meters): their campaign or offer left the graph, or lost its limit."""
        for lease in list(self._leases.values()):
            if (lease.kind, lease.owner) not in live:
                self._retire(lease)

    # -- the background task ---------------------------------------------------------

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self.run(), name="leases")

    async def run(self) -> None:
        period = self.settings.settle_ms / 1000
        while True:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), period)
            self._wake.clear()
            try:
                await self.step(self._clock())
            except Exception:  # one bad pass must not end the leases
                log.exception("lease pass failed")

    async def step(self, now_ms: int) -> None:
        """One pass over every lease: returns, settles, refills."""
        settings = self.settings
        for lease in list(self._leases.values()):
            if lease.ends_ms is not None and now_ms >= lease.ends_ms:
                self._retire(lease)  # its day is over
                continue
            back = 0
            if now_ms - lease.last_ms >= settings.idle_ms:
                floor = 0 if lease.exhausted else settings.min_block * lease.unit
                back = max(0, lease.balance - floor)
            if back or lease.pending:
                await self._settle(lease, back)
            if lease.wanted and not lease.retired and now_ms >= lease.retry_ms:
                await self._refill(lease, now_ms)
        retiring, self._retiring = self._retiring, []
        for lease in retiring:
            if lease.balance or lease.pending:
                await self._settle(lease, lease.balance)
            if lease.pending:  # not reported: next pass
                self._retiring.append(lease)

    async def _settle(self, lease: Lease, back: int) -> None:
        spent, lease.pending = lease.pending, 0
        lease.balance -= back
        lease.returned += back
        try:
            await self._ledger.settle(lease.key, given_back=back, spent=spent)
        except _UNREACHABLE as exc:
            # Units given back are gone either way (the script may have run: putting them
            # back could spend them twice); spent ones are reported again next pass.
            lease.pending += spent
            self.settle_failures += 1
            self.lost += back
            log.warning("meter settle failed (%s): %s", lease.kind, exc)
        else:
            self.given_back += back

    async def _refill(self, lease: Lease, now_ms: int) -> None:
        settings = self.settings
        elapsed = now_ms - lease.rate_since_ms
        rate = lease.rate_used * 1000 / elapsed if elapsed > 0 else 0.0
        # The first block, before any rate is known, is the largest: a campaign's first
        # burst must not find an empty balance (idle returns bring it back down).
        want = (settings.max_block * lease.unit if lease.taken == 0
                else int(rate * settings.block_seconds))
        want = min(max(want, settings.min_block * lease.unit), settings.max_block * lease.unit)
        want = min(want, lease.limit)
        lease.rate_since_ms, lease.rate_used = now_ms, 0
        least = min(lease.unit, want) if want > 0 else 1
        lease.block = want
        if want < 1:
            lease.exhausted, lease.wanted = True, False
            lease.retry_ms = now_ms + settings.recheck_ms
            return
        try:
            got = await self._ledger.take(lease.key, limit=lease.limit, want=want, least=least)
        except _UNREACHABLE as exc:
            self.take_failures += 1
            lease.unreachable = True
            lease.retry_ms = now_ms + (
                settings.recheck_ms if self._backoff is None
                else int(self._backoff.delay(self._failures) * 1000))
            if self._failures == 0:
                log.warning("meter take failed (%s): %s", lease.kind, exc)
            self._failures += 1
            return
        self.takes += 1
        self._failures = 0
        lease.unreachable = False
        lease.unseeded = got == UNSEEDED
        if lease.unseeded:
            # The ledger that granted what this edge holds is gone: spending it could go
            # over what the re-seeded ledger hands others. Dropped, and counted as lost.
            self.lost += lease.balance
            lease.returned += lease.balance
            lease.balance = 0
            lease.retry_ms = now_ms + settings.recheck_ms
            return
        lease.taken += got
        lease.balance += got  # retired meanwhile: the next pass gives it back
        lease.exhausted = got == 0
        if got == 0:
            lease.retry_ms = now_ms + settings.recheck_ms
        else:
            lease.wanted = lease.balance < want * settings.low_water
            lease.retry_ms = 0

    async def close(self, timeout: float = 5.0) -> None:
        """Stop the task, report what was spent and give every balance back (drain)."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for lease in list(self._leases.values()):
            self._retire(lease)
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self.step(self._clock()), timeout)

    # -- reading -----------------------------------------------------------------------

    def get(self, key: str) -> Lease | None:
        return self._leases.get(key)

    def leases(self) -> list[Lease]:
        """Every lease, those being given back included."""
        return [*self._leases.values(), *self._retiring]

    def prometheus(self) -> str:
        lines = [f'turnout_edge_lease_refused_total{{reason="{reason}"}} {count}'
                 for reason, count in self.refused.items()]
        lines += [
            f"turnout_edge_lease_takes_total {self.takes}",
            f"turnout_edge_lease_take_failures_total {self.take_failures}",
            f"turnout_edge_lease_settle_failures_total {self.settle_failures}",
            f"turnout_edge_leases_held {len(self._leases)}",
        ]
        return "\n".join(lines) + "\n"
