"""The Prometheus text of one worker's values, or of every worker's added up.

A `Sample` is what one worker counted: family name -> series -> value, where the series
is the rest of the line before the value (`{route="c",status="302"}`, `_bucket{le="0.001"}`,
or "" for a plain gauge). With `--workers N` every worker publishes its sample into a slot
(edge.metric_slots) and the one answering the scrape renders them all as one edge:

- counters and histograms are summed over every slot, a dead worker's last values
  included, so nothing goes backwards when a worker dies or is replaced;
- gauges describe live workers only, combined as `ACROSS_WORKERS` says; a gauge not named
  there is exported per worker, with a `worker` label (the slot's number);
- `turnout_edge_worker_requests_total{worker}` and `turnout_edge_worker_up{worker}` say
  how the requests spread and which slots have a live worker.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Final

Value = int | float
Series = dict[str, Value]
Sample = dict[str, Series]

COUNTER, GAUGE, HISTOGRAM = "counter", "gauge", "histogram"
REQUESTS: Final = "turnout_edge_requests_total"

_COMBINE: Final[dict[str, Callable[[Iterable[Value]], Value]]] = {
    "sum": sum, "min": min, "max": max,
}
# How a gauge of every live worker makes one value for the edge.
ACROSS_WORKERS: Final = {
    # The version every live worker serves: it moves once the last worker has switched.
    "turnout_edge_graph_version": "min",
    # 1 only while every live worker follows Redis.
    "turnout_edge_graph_store_connected": "min",
    "turnout_sink_buffer_depth": "sum",  # each worker buffers its own events
    # Each worker measures the whole spool directory, which they share (edge.sink.spooler).
    "turnout_sink_spool_bytes": "max",
    "turnout_sink_spool_events_pending": "max",
    "turnout_sink_broker_up": "min",  # 1 only while every live worker reaches Kafka
    "turnout_edge_connections": "sum",  # each worker holds its own
}
_LINE: Final = re.compile(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)")


@dataclass(frozen=True, slots=True)
class Family:
    kind: str
    help: str = ""


@dataclass(frozen=True, slots=True)
class Slot:
    """One worker's published sample; `live` while its worker holds the slot."""

    index: int
    live: bool
    sample: Sample


def kind_of(name: str, families: Mapping[str, Family]) -> str:
    """A declared family's kind; otherwise (a section's line) a counter when it is named as
    one (`_total`), else a gauge."""
    family = families.get(name)
    if family is not None:
        return family.kind
    return COUNTER if name.endswith("_total") else GAUGE


def parse(text: str) -> Sample:
    """The sample lines of a text exposition (comments skipped) as a Sample."""
    sample: Sample = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        match = _LINE.fullmatch(line.strip())
        if match is None:
            raise ValueError(f"not a sample line: {line!r}")
        name, labels, value = match.groups()
        sample.setdefault(name, {})[labels or ""] = _number(value)
    return sample


def _number(text: str) -> Value:
    try:
        return int(text)
    except ValueError:
        return float(text)


def counted(sample: Sample, families: Mapping[str, Family]) -> Sample:
    """The counters and histograms of `sample`: what a worker's successor carries on."""
    return {name: dict(series) for name, series in sample.items()
            if kind_of(name, families) != GAUGE}


def added(base: Sample, sample: Sample) -> Sample:
    """`sample` with `base`'s values added to its series (and base's other series kept)."""
    total = {name: dict(series) for name, series in base.items()}
    for name, series in sample.items():
        into = total.setdefault(name, {})
        for key, value in series.items():
            into[key] = into.get(key, 0) + value
    return total


def combined(slots: Iterable[Slot], families: Mapping[str, Family]) -> Sample:
    """The edge's values from every slot's: counters summed over all slots, gauges
    combined over live slots (per worker, labelled, when no rule says how)."""
    slots = list(slots)
    total: Sample = {}
    gauges: dict[str, dict[str, list[Value]]] = {}
    for slot in slots:
        for name, series in slot.sample.items():
            if kind_of(name, families) != GAUGE:
                into = total.setdefault(name, {})
                for key, value in series.items():
                    into[key] = into.get(key, 0) + value
            elif not slot.live:
                continue
            elif name in ACROSS_WORKERS:
                total.setdefault(name, {})
                for key, value in series.items():
                    gauges.setdefault(name, {}).setdefault(key, []).append(value)
            else:
                into = total.setdefault(name, {})
                for key, value in series.items():
                    into[_with_worker(key, slot.index)] = value
    for name, values in gauges.items():
        combine = _COMBINE[ACROSS_WORKERS[name]]
        total[name] = {key: combine(found) for key, found in values.items()}
    total["turnout_edge_worker_requests_total"] = {
        _with_worker("", slot.index): sum(slot.sample.get(REQUESTS, {}).values())
        for slot in slots
    }
    total["turnout_edge_worker_up"] = {_with_worker("", slot.index): int(slot.live)
                                       for slot in slots}
    return total


WORKER_FAMILIES: Final = {
    "turnout_edge_worker_requests_total": Family(
        COUNTER, "HTTP requests answered by the worker in each slot (its predecessors' "
        "included)."),
    "turnout_edge_worker_up": Family(GAUGE, "1 while a live worker holds the slot."),
}


def _with_worker(key: str, index: int) -> str:
    label = f'worker="{index}"'
    if key.endswith("}"):
        return f"{key[:-1]},{label}}}"
    return f"{key}{{{label}}}"


def render(sample: Sample, families: Mapping[str, Family]) -> str:
    return "\n".join(_lines(sample, families)) + "\n"


def _lines(sample: Sample, families: Mapping[str, Family]) -> Iterator[str]:
    for name, series in sample.items():
        family = families.get(name)
        if family is not None and family.help:
            yield f"# HELP {name} {family.help}"
        yield f"# TYPE {name} {kind_of(name, families)}"
        for key, value in series.items():
            yield f"{name}{key} {value}"
