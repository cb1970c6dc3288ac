"""The edge's metrics: counted in process, rendered by hand, added up over workers.

Per-request cost is an int increment: each route owns a `RouteStats` fetched once at
start; counting is `dict[int] += 1` on a dict keyed by status, so no label tuple or dict
is built per request. A scrape turns the counts into a Sample and its text
(edge.exposition). With `--workers N` the Metrics of each worker has a slot
(edge.metric_slots): it publishes its sample there every `FLUSH_SECONDS` and when it
stops, and the worker answering a scrape publishes its own first, then reads and adds up
every slot, so a scrape sees the other workers as of their last second at most.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from bisect import bisect_left
from collections.abc import Callable
from typing import Final

from turnout.edge import exposition
from turnout.edge.exposition import COUNTER, GAUGE, HISTOGRAM, REQUESTS, Family, Sample
from turnout.edge.metric_slots import WorkerSlot

log = logging.getLogger(__name__)

# Redirect handling time, seconds: fine-grained below 5 ms where the target is.
BUCKETS: Final = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 1.0)
_BUCKETS_NS: Final = tuple(int(b * 1e9) for b in BUCKETS)
FLUSH_SECONDS: Final = 1.0
REDIRECT_SECONDS: Final = "turnout_edge_redirect_seconds"
_OWN: Final = {
    REQUESTS: Family(COUNTER, "HTTP requests answered, by route and status."),
    REDIRECT_SECONDS: Family(HISTOGRAM, "Time to answer GET /c/{code}, in seconds."),
}


class RouteStats:
    __slots__ = ("route", "statuses")

    def __init__(self, route: str) -> None:
        self.route = route
        self.statuses: dict[int, int] = {}

    def count(self, status: int) -> None:
        statuses = self.statuses
        statuses[status] = statuses.get(status, 0) + 1


class Histogram:
    __slots__ = ("counts", "sum_ns", "total")

    def __init__(self) -> None:
        self.counts = [0] * (len(_BUCKETS_NS) + 1)
        self.total = 0
        self.sum_ns = 0

    def observe_ns(self, elapsed_ns: int) -> None:
        self.counts[bisect_left(_BUCKETS_NS, elapsed_ns)] += 1
        self.total += 1
        self.sum_ns += elapsed_ns

    def series(self) -> dict[str, int | float]:
        found: dict[str, int | float] = {}
        running = 0
        for bound, count in zip(BUCKETS, self.counts, strict=False):
            running += count
            found[f'_bucket{{le="{bound}"}}'] = running
        found['_bucket{le="+Inf"}'] = self.total
        found["_sum"] = self.sum_ns / 1e9
        found["_count"] = self.total
        return found


Gauge = Callable[[], float | int]


class Metrics:
    def __init__(self, slot: WorkerSlot | None = None) -> None:
        self.routes: dict[str, RouteStats] = {}
        self.redirect_latency = Histogram()
        self.gauges: dict[str, tuple[str, str, Gauge]] = {}  # name -> (type, help, read)
        self.sections: list[Callable[[], str]] = []  # text blocks from other parts (sink)
        self._slot = slot
        self._keys: dict[tuple[str, int], str] = {}  # (route, status) -> its labels
        self._inherited: Sample | None = None  # the slot's predecessors' counters
        self._last_good: dict[str | int, Sample] = {}  # gauge name or section index -> values
        self._failing = False  # publishing failed last time (logged once, until it works)
        self._flusher: asyncio.Task[None] | None = None

    def route(self, name: str) -> RouteStats:
        return self.routes.setdefault(name, RouteStats(name))

    def gauge(self, name: str, help_text: str, read: Gauge, kind: str = GAUGE) -> None:
        self.gauges[name] = (kind, help_text, read)

    def families(self) -> dict[str, Family]:
        return {**_OWN, **{name: Family(kind, help_text)
                           for name, (kind, help_text, _) in self.gauges.items()},
                **exposition.WORKER_FAMILIES}

    def sample(self) -> Sample:
        """This process's values. A gauge or section that fails gives its last values (none
        if it never worked): a counter must not drop out of the workers' sum for a scrape."""
        keys = self._keys
        requests: dict[str, int | float] = {}
        for route in self.routes.values():
            for status, count in sorted(route.statuses.items()):
                key = keys.get((route.route, status))
                if key is None:
                    key = keys[route.route, status] = \
                        f'{{route="{route.route}",status="{status}"}}'
                requests[key] = count
        sample: Sample = {REQUESTS: requests, REDIRECT_SECONDS: self.redirect_latency.series()}
        last = self._last_good
        for name, (_, _, read) in self.gauges.items():
            try:
                last[name] = {name: {"": read()}}
            except Exception:
                log.debug("gauge %s failed", name, exc_info=True)
            sample.update(last.get(name, {}))
        for index, section in enumerate(self.sections):
            try:
                last[index] = exposition.parse(section())
            except Exception:
                log.debug("metrics section %d failed", index, exc_info=True)
            sample.update(last.get(index, {}))
        return sample

    def render(self) -> str:
        """This worker's values, or with a slot, every worker's added up."""
        if self._slot is None:
            return exposition.render(self.sample(), self.families())
        self.flush()
        families = self.families()
        return exposition.render(exposition.combined(self._slot.read_all(), families), families)

    def flush(self) -> None:
        """Publish this worker's values (and its slot's predecessors' counters) in its slot."""
        slot = self._slot
        if slot is None:
            return
        if self._inherited is None:
            self._inherited = exposition.counted(slot.inherited, self.families())
        sample = self.sample()
        try:
            slot.write(exposition.added(self._inherited, sample) if self._inherited else sample)
        except (OSError, ValueError) as exc:
            if not self._failing:
                log.error("could not publish this worker's metrics: %s", exc)
            self._failing = True
            return
        if self._failing:
            log.info("publishing this worker's metrics works again")
            self._failing = False

    def start(self) -> None:
        """With a slot, publish every FLUSH_SECONDS from now on (needs the running loop)."""
        if self._slot is not None and self._flusher is None:
            self._flusher = asyncio.get_running_loop().create_task(self._flush_every(),
                                                                   name="metrics-flush")

    async def close(self) -> None:
        """The last publish, once the rest has stopped counting; then the slot is free."""
        flusher, self._flusher = self._flusher, None
        if flusher is not None:
            flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await flusher
        if self._slot is not None:
            self.flush()
            self._slot.close()
            self._slot = None

    async def _flush_every(self) -> None:
        while True:
            await asyncio.sleep(FLUSH_SECONDS)
            self.flush()
