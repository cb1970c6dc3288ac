"""Settings of the event sink, read once from `TURNOUT_*` variables."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from turnout import env
from turnout.backoff import Backoff
from turnout.connections import Connections
from turnout.edge.sink.spool import FSYNC_MODES, FsyncMode

COMPRESSIONS: Final = ("lz4", "zstd", "gzip", "snappy", "none")
GIB: Final = 1024 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class SinkSettings:
    """How the edge buffers, sends and spools events.

    `idempotence` defaults to off because tansu (the local/test broker) rejects
    aiokafka's idempotent producer; against Apache Kafka set TURNOUT_KAFKA_IDEMPOTENCE=1
    so that the client's own retries cannot write a batch twice.
    """

    kafka_bootstrap: str
    spool_dir: Path
    """Where events go while Kafka is unreachable (replayed when it returns); keep it on a
    persistent disk.

    Default: TURNOUT_DATA_DIR + `/spool`"""
    kafka_cluster: str = ""  # Connections.kafka_cluster: names the spool's segments
    buffer_size: int = 100_000
    """Events held in memory; beyond it an event goes straight to the spool."""
    batch_size: int = 2000
    """Events per batch sent to Kafka."""
    linger_ms: int = 20
    """How long the sender waits to fill a batch."""
    # zstd (level 3): aiokafka compresses lz4 at level 9 (LZ4-HC), ~20x slower than zstd 3
    # here and larger; see docs/decisions.md.
    compression: str = "zstd"
    """Kafka batch compression: lz4, zstd, gzip, snappy or none."""
    acks: str = "all"
    """Kafka acks the edge waits for: `all` or `1` (never 0, which would hide lost events)."""
    idempotence: bool = False
    """Idempotent Kafka producer: turn it on against Apache Kafka (tansu rejects it)."""
    spool_fsync: FsyncMode = "batch"
    """When spooled events are fsynced: batch, always or never (docs/operations-spool.md)."""
    request_timeout_ms: int = 5000
    """How soon a dead or hung broker is noticed."""
    retry_backoff_ms: int = 100
    """First reconnect delay after the broker failed; each failure in a row doubles its
    ceiling up to the maximum, and the wait is a uniform draw below it (full jitter)."""
    retry_backoff_max_ms: int = 2000
    """Ceiling of the reconnect delay (at least retry_backoff_ms): a broker that came back
    is used again within about this long."""
    max_spool_bytes: int = 10 * GIB
    """Spool size limit (10 GiB); beyond it events are dropped, counted and logged."""
    segment_bytes: int = 64 * 1024 * 1024
    """Size of one spool file (64 MiB)."""
    max_in_flight: int = 4
    """Batches awaiting Kafka's acks at once."""
    high_water: float = 0.5  # buffer fraction above which a stalled sender spools

    def __post_init__(self) -> None:
        problems = []
        if self.compression not in COMPRESSIONS:
            problems.append(f"compression must be one of {COMPRESSIONS}")
        if self.acks not in ("all", "1"):
            problems.append("acks must be 'all' or '1' (acks=0 would hide lost events)")
        if self.spool_fsync not in FSYNC_MODES:
            problems.append(f"spool_fsync must be one of {FSYNC_MODES}")
        for name in ("buffer_size", "batch_size", "request_timeout_ms", "max_in_flight",
                     "segment_bytes", "retry_backoff_ms", "retry_backoff_max_ms"):
            if getattr(self, name) <= 0:
                problems.append(f"{name} must be > 0")
        if self.retry_backoff_max_ms < self.retry_backoff_ms:
            problems.append("retry_backoff_max_ms must be >= retry_backoff_ms")
        if self.linger_ms < 0 or self.max_spool_bytes < 0:
            problems.append("linger_ms and max_spool_bytes must be >= 0")
        if not 0.0 < self.high_water <= 1.0:
            problems.append("high_water must be in (0, 1]")
        if problems:
            raise env.SettingError("; ".join(problems))

    @property
    def reconnect(self) -> Backoff:
        """The connector's backoff between probes of a broker that failed."""
        return Backoff(base=self.retry_backoff_ms / 1000, cap=self.retry_backoff_max_ms / 1000)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> SinkSettings:
        connections = Connections.from_env(environ)
        fsync = env.text("spool_fsync", "batch", environ)
        if fsync not in FSYNC_MODES:
            raise env.SettingError(f"TURNOUT_SPOOL_FSYNC: expected one of {FSYNC_MODES}")
        spool_dir = env.text("spool_dir", str(connections.data_dir / "spool"), environ)
        return cls(
            kafka_bootstrap=connections.kafka_bootstrap,
            kafka_cluster=connections.kafka_cluster,
            spool_dir=Path(spool_dir).resolve(),
            buffer_size=env.integer("sink_buffer_size", 100_000, environ),
            batch_size=env.integer("sink_batch_size", 2000, environ),
            linger_ms=env.integer("sink_linger_ms", 20, environ),
            compression=env.text("kafka_compression", "zstd", environ),
            acks=env.text("kafka_acks", "all", environ),
            idempotence=env.flag("kafka_idempotence", False, environ),
            spool_fsync=fsync,  # type: ignore[arg-type]  # checked against FSYNC_MODES above
            request_timeout_ms=env.integer("kafka_request_timeout_ms", 5000, environ),
            retry_backoff_ms=env.integer("sink_retry_backoff_ms", 100, environ),
            retry_backoff_max_ms=env.integer("sink_retry_backoff_max_ms", 2000, environ),
            max_spool_bytes=env.integer("spool_max_bytes", 10 * GIB, environ),
            segment_bytes=env.integer("spool_segment_bytes", 64 * 1024 * 1024, environ),
            max_in_flight=env.integer("sink_max_in_flight", 4, environ),
        )
