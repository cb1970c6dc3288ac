"""Whether Kafka answers: the producer's lifecycle and a reconnect task with backoff.

Requests time out after `request_timeout_ms` (seconds, not aiokafka's 40 s), which fails
a batch; the sender or replayer then calls `mark_down()`, and the connector task probes
the cluster metadata until it answers again, waiting between probes a capped exponential
backoff with full jitter (turnout.backoff) from `retry_backoff_ms` up to
`retry_backoff_max_ms`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable
from typing import Any

from turnout.edge.sink.settings import SinkSettings
from turnout.edge.sink.stats import Counters

log = logging.getLogger("turnout.edge.sink")

ProducerFactory = Callable[[SinkSettings], Any]


class Connector:
    def __init__(self, settings: SinkSettings, factory: ProducerFactory, counters: Counters,
                 on_up: Callable[[], None], draw: Callable[[], float] = random.random) -> None:
        self.settings = settings
        self._draw = draw  # the jitter: a uniform draw in [0, 1)
        self.producer: Any = None
        self.up = False
        self._factory = factory
        self._counters = counters
        self._on_up = on_up
        self._timeout = settings.request_timeout_ms / 1000
        self._stopping = False
        self._down = asyncio.Event()
        self._stop_event = asyncio.Event()
        self._first_attempt = asyncio.Event()

    async def first_attempt(self) -> None:
        """Until the first connection attempt ended, either way (or close() began)."""
        await self._first_attempt.wait()

    def mark_down(self) -> None:
        if self.up:
            log.warning("Kafka unreachable (%s): spooling events", self._counters.last_error)
        self.up = False
        self._down.set()

    async def run(self) -> None:
        backoff = self.settings.reconnect
        failures = 0
        while not self._stopping:
            if self.up:
                self._first_attempt.set()
                self._down.clear()
                if self.up:
                    await self._down.wait()
                continue
            if await self._connect():
                log.info("Kafka reachable at %s", self.settings.kafka_bootstrap)
                self.up = True
                failures = 0
                self._on_up()
                continue
            self._first_attempt.set()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop_event.wait(), backoff.delay(failures, self._draw))
            failures += 1

    def stop(self) -> None:
        """End run() and release whoever waits for the first attempt."""
        self._stopping = True
        self._stop_event.set()
        self._first_attempt.set()
        self._down.set()

    async def close(self, timeout: float) -> None:
        producer, self.producer = self.producer, None
        self.up = False
        if producer is not None:
            await self._stop_producer(producer, timeout)

    async def _connect(self) -> bool:
        producer = self.producer
        if producer is None:
            producer = self._factory(self.settings)
            try:
                await asyncio.wait_for(producer.start(), self._timeout)
            except asyncio.CancelledError:
                await self._stop_producer(producer, 1.0)  # close() during a connect
                raise
            except Exception as exc:
                self._counters.note_error(exc)
                await self._stop_producer(producer, self._timeout)
                return False
            self.producer = producer
            return True
        try:
            return bool(
                await asyncio.wait_for(producer.client.force_metadata_update(), self._timeout)
            )
        except Exception as exc:
            self._counters.note_error(exc)
            return False

    async def _stop_producer(self, producer: Any, timeout: float) -> None:
        try:
            await asyncio.wait_for(producer.stop(), timeout)
        except Exception as exc:
            log.warning("Kafka producer did not stop cleanly: %s", exc)
