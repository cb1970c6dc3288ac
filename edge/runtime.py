"""What every handler shares: settings, the graph, the parsers, the id source, the sink."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from edge.context import ContextCodec
from edge.graph import GraphHolder
from edge.metrics import Metrics
from edge.observe import Observer
from edge.settings import EdgeSettings
from turnout.clickid import ClickIds


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
