"""Events: decoded, validated and stored as they come; looked up only after a failed insert,
for the rows ClickHouse has (Pipeline.insert)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Final

from turnout.events import Event
from turnout.ingest import records, validate
from turnout.ingest.batch import Span
from turnout.ingest.dlq import Record
from turnout.ingest.pipelines import Pipeline, Prepared

_EVENTS: Final = validate.each(validate.event)


class EventPipeline(Pipeline[Event, Event]):
    table = "events"

    def check(self, batch: Sequence[Record]) -> list[Event | validate.Invalid]:
        return _EVENTS([record.value for record in batch])

    def columns(self, rows: Sequence[Event], label: str) -> list[list[Any]]:
        return records.event_columns(rows)

    def keys(self, rows: Sequence[Event]) -> Iterable[str]:
        return (e.event_id for e in rows)

    def stored_keys(self, rows: Sequence[Event]) -> set[str]:
        return self.store.stored_events(rows)

    def prepare(self, batch: Sequence[Record], span: Span) -> Prepared[Event]:
        prepared = super().prepare(batch, span)
        prepared.insert = self.encode(prepared.items, span)
        return prepared
