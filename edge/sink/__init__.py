"""The edge's event pipeline: a non-blocking emit(), batches to Kafka, a disk spool."""

from __future__ import annotations

from turnout.edge.sink.settings import SinkSettings
from turnout.edge.sink.sink import EventSink
from turnout.edge.sink.stats import SinkStats

__all__ = ["EventSink", "SinkSettings", "SinkStats"]
