"""Prometheus text exposition written by hand: per-request cost is an int increment.

Each route owns a `RouteStats` fetched once at start; counting is `dict[int] += 1` on a
dict keyed by status, so no label tuple or dict is built per request. With several
workers each process counts its own requests (scrape each, or sum by instance).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterable
from typing import Final

# Redirect handling time, seconds: fine-grained below 5 ms where the target is.
BUCKETS: Final = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 1.0)
_BUCKETS_NS: Final = tuple(int(b * 1e9) for b in BUCKETS)


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


Gauge = Callable[[], float | int]


class Metrics:
    def __init__(self) -> None:
        self.routes: dict[str, RouteStats] = {}
        self.redirect_latency = Histogram()
        self.gauges: dict[str, tuple[str, str, Gauge]] = {}  # name -> (type, help, read)
        self.sections: list[Callable[[], str]] = []  # whole blocks from other parts (sink)

    def route(self, name: str) -> RouteStats:
        return self.routes.setdefault(name, RouteStats(name))

    def gauge(self, name: str, help_text: str, read: Gauge, kind: str = "gauge") -> None:
        self.gauges[name] = (kind, help_text, read)

    def render(self) -> str:
        lines = [
            "# HELP turnout_edge_requests_total HTTP requests answered, by route and status.",
            "# TYPE turnout_edge_requests_total counter",
        ]
        for route in self.routes.values():
            for status, count in sorted(route.statuses.items()):
                lines.append(
                    f'turnout_edge_requests_total{{route="{route.route}",status="{status}"}} '
                    f"{count}"
                )
        lines += self._histogram()
        for name, (kind, help_text, read) in self.gauges.items():
            try:
                value = read()
            except Exception:  # a broken gauge must not break the scrape
                continue
            lines += [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}", f"{name} {value}"]
        for section in self.sections:
            try:
                lines.append(section().rstrip("\n"))
            except Exception:
                continue
        return "\n".join(lines) + "\n"

    def _histogram(self) -> Iterable[str]:
        name = "turnout_edge_redirect_seconds"
        h = self.redirect_latency
        yield f"# HELP {name} Time to answer GET /c/{{code}}, in seconds."
        yield f"# TYPE {name} histogram"
        running = 0
        for bound, count in zip(BUCKETS, h.counts, strict=False):
            running += count
            yield f'{name}_bucket{{le="{bound}"}} {running}'
        yield f'{name}_bucket{{le="+Inf"}} {h.total}'
        yield f"{name}_sum {h.sum_ns / 1e9}"
        yield f"{name}_count {h.total}"
