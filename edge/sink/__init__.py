"""The edge's event pipeline: a non-blocking emit(), batches to Kafka, a disk spool."""

from __future__ import annotations

from edge.sink.settings import SinkSettings
from edge.sink.sink import EventSink
from edge.sink.stats import SinkStats

__all__ = ["EventSink", "SinkSettings", "SinkStats"]
