"""Conversions: attributed at ingest, held while their click (or, for lander traffic,
the LP click that names their offer) is not stored yet."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from turnout.events import Conversion
from turnout.ingest import attribution, lander_offers, records, validate
from turnout.ingest.attribution import ClickRef
from turnout.ingest.batch import Partition, Span
from turnout.ingest.dlq import DeadLetter, Producer, Record, letter
from turnout.ingest.pipelines import Insert, Pipeline, Prepared, wall_clock_ms
from turnout.ingest.settings import IngestSettings
from turnout.ingest.store import Store

log = logging.getLogger(__name__)
_CONVERSIONS: Final = validate.each(validate.conversion)
Row = dict[str, Any]  # attribution's row: every column of schema.CONVERSIONS by name


@dataclass(slots=True)
class Held:
    conversion: Conversion
    partition: Partition
    offset: int
    record: Record  # the message, for a dead letter if attribution refuses it
    # Monotonic seconds; set when the batch is written (see ConversionPipeline.finish).
    first_seen: float = 0.0


class ConversionPipeline(Pipeline[Held, Row]):
    """Attributes conversions at ingest; holds those whose click is not stored yet.

    A held conversion pins its partition's commit offset at its own offset, so a crash
    re-reads it; later conversions of the partition are stored meanwhile (a re-read
    stores them again, which ReplacingMergeTree collapses: same key, same version).
    A conversion attribution refuses (attribution.refusal) goes to the DLQ with its reason,
    counted in `refused` by reason.
    """

    table = "conversions"

    def __init__(
        self, store: Store, producer: Producer, settings: IngestSettings, stop: asyncio.Event
    ) -> None:
        super().__init__(store, producer, settings, stop)
        self.held: list[Held] = []
        self._position: dict[Partition, int] = {}
        self._committed: dict[Partition, int] = {}
        self.refused: Counter[str] = Counter()
        self._letters: list[DeadLetter] = []

    def has_pending(self) -> bool:
        return bool(self.held)

    def forget(self, partitions: set[Partition]) -> None:
        self.held = [h for h in self.held if h.partition not in partitions]
        for partition in partitions:
            self._position.pop(partition, None)
            self._committed.pop(partition, None)

    def check(self, batch: Sequence[Record]) -> list[Held | validate.Invalid]:
        return [
            outcome if isinstance(outcome, validate.Invalid)
            else Held(outcome, (record.topic, record.partition), record.offset, record)
            for record, outcome in zip(
                batch, _CONVERSIONS([record.value for record in batch]), strict=True
            )
        ]

    def columns(self, rows: Sequence[Row], label: str) -> list[list[Any]]:
        return records.conversion_columns(rows)

    def keys(self, rows: Sequence[Row]) -> Iterable[str]:
        return (f"{r['conversion_id']}/{r['click_id']}" for r in rows)

    def stored_keys(self, rows: Sequence[Row]) -> set[str]:
        return {f"{conversion}/{click}"
                for conversion, click in self.store.stored_conversions(rows)}

    async def finish(self, prepared: Prepared[Held]) -> Insert | None:
        """Attribute the batch's conversions and those held before; insert what resolved."""
        # The clock is read here, not in prepare: the write before this one may wait out a
        # ClickHouse outage, and a conversion's grace starts when it can first be resolved.
        now = time.monotonic()
        for held in prepared.items:
            held.first_seen = now
        rows, self.held = await self.resolve(self.held + prepared.items, now, wall_clock_ms())
        prepared.dead.extend(self._letters)
        self._letters = []
        return self.encode(rows, prepared.span)

    def offsets(self, span: Span) -> dict[Partition, int]:
        self._position.update(span.next_offsets())
        return self._commit_offsets()

    def _commit_offsets(self) -> dict[Partition, int]:
        floor: dict[Partition, int] = {}
        for held in self.held:
            current = floor.get(held.partition)
            if current is None or held.offset < current:
                floor[held.partition] = held.offset
        offsets = {}
        for partition, position in self._position.items():
            offset = floor.get(partition, position)
            if self._committed.get(partition) != offset:
                offsets[partition] = offset
        return offsets

    def committed(self, offsets: dict[Partition, int]) -> None:
        self._committed.update(offsets)

    async def resolve(
        self, pending: list[Held], now: float, now_ms: int
    ) -> tuple[list[Row], list[Held]]:
        """Rows for the conversions that can be written now, and those still held."""
        settle_ms = int(self.settings.visitor_settle_s * 1000)
        by_visitor = [h for h in pending if not h.conversion.click_id]
        settled = [h for h in by_visitor if now_ms - h.conversion.ts_ms >= settle_ms]
        prior = await self.retry(
            "conversion look-up",
            self.store.prior_visitor_conversions,
            [(h.conversion.visitor_id, h.conversion.txid) for h in settled if h.conversion.txid],
        )
        wanted = [h.conversion.click_id for h in pending if h.conversion.click_id]
        wanted += prior.values()
        clicks = await self.retry("click look-up", self.store.clicks_by_id, wanted)
        fresh = [h for h in settled if (h.conversion.visitor_id, h.conversion.txid) not in prior]
        candidates: dict[str, list[ClickRef]] = {}
        if fresh:
            until = max(h.conversion.ts_ms for h in fresh)
            candidates = await self.retry(
                "visitor look-up",
                self.store.clicks_by_visitor,
                [h.conversion.visitor_id for h in fresh],
                until,
            )
        rows: list[Row] = []
        decided: list[tuple[Held, ClickRef, str]] = []
        still: list[Held] = []
        chosen: dict[tuple[str, str], ClickRef] = {}
        # Oldest first, so the first status of a (visitor, txid) picks the click and a
        # later status in the same batch follows it.
        for held in sorted(pending, key=lambda h: (h.conversion.ts_ms, h.offset)):
            conversion = held.conversion
            click: ClickRef | None = None
            how = "click_id"
            if conversion.click_id:
                click = clicks.get(conversion.click_id)
            elif now_ms - conversion.ts_ms >= settle_ms:
                how = "visitor"
                pair = (conversion.visitor_id, conversion.txid)
                if conversion.txid and pair in chosen:
                    click = chosen[pair]
                elif conversion.txid and pair in prior:
                    click = clicks.get(prior[pair])
                else:
                    click = attribution.last_touch(
                        conversion, candidates.get(conversion.visitor_id, ())
                    )
                if click is not None and conversion.txid:
                    chosen[pair] = click
            if click is not None:
                decided.append((held, click, how))
            elif now - held.first_seen >= self.settings.attribution_grace_s:
                rows.append(attribution.unattributed_row(conversion))
            else:
                still.append(held)
        rows += await self._through_landers(decided, now, now_ms, still)
        return rows, still

    def _refuse(self, held: Held, reason: str, detail: str, now_ms: int) -> None:
        self.refused[reason] += 1
        log.warning("conversion %s refused: %s: %s", held.conversion.conversion_id, reason,
                    detail)
        self._letters.append(letter(held.record, f"{reason}: {detail}", now_ms))

    async def _through_landers(self, decided: list[tuple[Held, ClickRef, str]], now: float,
                               now_ms: int, still: list[Held]) -> list[Row]:
        """Rows for the attributed conversions, those on lander traffic with the offer of
        their LP click (ingest.lander_offers); one whose campaign click has no stored LP
        click yet waits for it up to the grace period (appended to `still`). A conversion its
        network may not make on that click (attribution.refusal) goes to the DLQ instead;
        it is judged on the offer the visitor went to, so after the LP click look-up."""
        parents = [click for _held, click, _how in decided if lander_offers.went_to_lander(click)]
        lp_clicks: dict[str, list[ClickRef]] = {}
        if parents:
            until = max(held.conversion.ts_ms for held, _click, _how in decided)
            lp_clicks = await self.retry("LP click look-up", self.store.lp_clicks_of,
                                         parents, until)
        rows: list[Row] = []
        for held, click, how in decided:
            if lander_offers.went_to_lander(click):
                found = lp_clicks.get(click.click_id, [])
                if not found and now - held.first_seen < self.settings.attribution_grace_s:
                    still.append(held)
                    continue
                click = lander_offers.through(click, found, held.conversion.ts_ms)
            refused = attribution.refusal(held.conversion, click)
            if refused is not None:
                self._refuse(held, *refused, now_ms)
                continue
            rows.append(attribution.attributed_row(held.conversion, click, how))
        return rows
