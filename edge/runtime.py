"""What every handler shares: settings, the graph, the parsers, the id source, the sink."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from turnout.clickid import ClickIds
from turnout.edge.context import ContextCodec
from turnout.edge.days import Days
from turnout.edge.graph import GraphHolder
from turnout.edge.leases import Leases
from turnout.edge.metrics import Metrics
from turnout.edge.observe import Observer
from turnout.edge.settings import EdgeSettings


class Emitter(Protocol):
    """The part of edge.sink.EventSink the handlers use: a put that never blocks."""

    def emit(self, topic: str, key: str, struct: Any) -> None: ...


@dataclass(slots=True)
class Runtime:
    settings: EdgeSettings
    holder: GraphHolder
    observer: Observer
    ids: ClickIds
    codec: ContextCodec
    sink: Emitter
    metrics: Metrics
    leases: Leases | None = None  # None: no Redis meters (every limit refuses)
    days: Days = field(default_factory=Days)
