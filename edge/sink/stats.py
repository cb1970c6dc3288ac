"""The sink's counters: shared by its parts while it runs, a snapshot and its Prometheus text."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class SinkStats:
    buffer_depth: int = 0
    spool_bytes: int = 0
    # Frames waiting in sealed segments of the whole spool dir plus this process's open
    # one; an orphan segment of a crashed worker counts once it has been sealed/claimed.
    spool_events_pending: int = 0
    sent_total: dict[str, int] = field(default_factory=dict)
    spooled_total: int = 0  # events that took the disk path (first time only)
    replayed_total: int = 0  # spooled events later acked by Kafka
    send_errors_total: int = 0  # batches with at least one un-acked event
    dropped_total: int = 0  # spool full or unwritable: counted and logged, never silent
    spool_skipped_bytes: int = 0  # damaged spool bytes skipped on replay
    last_error: str = ""
    broker_up: bool = False

    def prometheus(self, prefix: str = "turnout_sink_") -> str:
        lines = [
            f"{prefix}buffer_depth {self.buffer_depth}",
            f"{prefix}spool_bytes {self.spool_bytes}",
            f"{prefix}spool_events_pending {self.spool_events_pending}",
            f"{prefix}spooled_total {self.spooled_total}",
            f"{prefix}replayed_total {self.replayed_total}",
            f"{prefix}send_errors_total {self.send_errors_total}",
            f"{prefix}dropped_total {self.dropped_total}",
            f"{prefix}spool_skipped_bytes_total {self.spool_skipped_bytes}",
            f"{prefix}broker_up {int(self.broker_up)}",
        ]
        lines.extend(
            f'{prefix}sent_total{{topic="{topic}"}} {count}'
            for topic, count in sorted(self.sent_total.items())
        )
        return "\n".join(lines) + "\n"


@dataclass(slots=True)
class Counters:
    """What the accumulator, sender, replayer and spooler count, in one place."""

    sent: Counter[str] = field(default_factory=Counter)
    spooled: int = 0
    replayed: int = 0
    send_errors: int = 0
    dropped: int = 0
    skipped: int = 0
    spool_bytes: int = 0
    spool_pending: int = 0
    last_error: str = ""

    def note_error(self, exc: BaseException) -> None:
        self.last_error = f"{type(exc).__name__}: {exc}"

    def snapshot(self, buffer_depth: int, broker_up: bool) -> SinkStats:
        return SinkStats(
            buffer_depth=buffer_depth,
            spool_bytes=self.spool_bytes,
            spool_events_pending=max(0, self.spool_pending),
            sent_total=dict(self.sent),
            spooled_total=self.spooled,
            replayed_total=self.replayed,
            send_errors_total=self.send_errors,
            dropped_total=self.dropped,
            spool_skipped_bytes=self.skipped,
            last_error=self.last_error,
            broker_up=broker_up,
        )
