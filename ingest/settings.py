"""Ingest settings, read once from TURNOUT_* at start (CLI flags override them)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from turnout import env
from turnout.backoff import Backoff
from turnout.events import TOPIC_CLICKS, TOPIC_CONVERSIONS, TOPIC_DLQ, TOPIC_EVENTS


@dataclass(frozen=True, slots=True)
class IngestSettings:
    database: str = "turnout"
    """ClickHouse database of the turnout tables."""
    group_id: str = "turnout-ingest"
    """Kafka consumer group prefix: one group per topic, `<group>.<topic>`."""
    batch_size: int = 5000
    """Records per ClickHouse insert, at most."""
    batch_wait_s: float = 1.0
    """Seconds a batch waits to fill before it is inserted anyway."""
    # The longest a fetch waits at the broker for data. tansu answers a fetch that names an
    # exhausted partition only after this wait even when other partitions have records
    # (Kafka's default of 500 ms stalled a batch by 300-500 ms in a third of the benchmark
    # runs); a shorter wait only costs idle consumers a few more empty fetches per second.
    fetch_wait_ms: int = 100
    """Longest a Kafka fetch waits at the broker for data."""
    session_timeout_ms: int = 10_000
    """Kafka consumer group session timeout: how long a dead ingest keeps its partitions
    before the broker gives them to another member (or to the same ingest restarted)."""
    heartbeat_interval_ms: int = 3_000
    """Kafka consumer heartbeat interval (under a third of the session timeout)."""
    attribution_grace_s: float = 60.0
    """Seconds a conversion whose click is not in ClickHouse yet is held (uncommitted)."""
    visitor_settle_s: float = 5.0
    """Seconds visitor conversions wait, so clicks ingested in parallel are seen first."""
    click_lookup: bool = True
    """Drop already-stored click ids before inserting, so replays never reach the rollups.
    Off: the raw table stays exact (ReplacingMergeTree) but the rollups can count a replay
    twice. On, most batches are answered from memory (TURNOUT_INGEST_CLICK_MEMORY ids)."""
    click_memory: int = 200_000
    """Click ids kept in memory so that most batches need no look-up (ingest/stored.py)."""
    retry_initial_s: float = 0.2
    """First delay before retrying a failed ClickHouse insert or dead-letter send (and
    reading the graph again for names); each failure in a row doubles its ceiling up to the
    maximum, and the wait is a uniform draw below it (full jitter)."""
    retry_max_s: float = 2.0
    """Ceiling of the retry delay (at least retry_initial_s): a ClickHouse or Redis that
    came back is used again within about this long."""
    stop_timeout_s: float = 30.0
    """Seconds ingest has to stop after SIGTERM/SIGINT (finish the batch being written,
    commit, leave the group). Past it the process exits at once: what it had not committed
    is read again by the next consumer, and an ingest whose Kafka or ClickHouse is gone
    cannot outlive its parent holding the chdb data path."""
    kafka_idempotence: bool = True
    """Idempotent producer for the dead-letter topic (tansu cannot do it; Apache Kafka can)."""
    topic_clicks: str = TOPIC_CLICKS
    topic_conversions: str = TOPIC_CONVERSIONS
    topic_events: str = TOPIC_EVENTS
    topic_dlq: str = TOPIC_DLQ

    @property
    def retry(self) -> Backoff:
        """The backoff between retries of what ingest writes or reads."""
        try:
            return Backoff(base=self.retry_initial_s, cap=self.retry_max_s)
        except ValueError as exc:
            raise env.SettingError(f"{env.PREFIX}INGEST_RETRY_INITIAL_S/_MAX_S: {exc}") from None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> IngestSettings:
        d = cls()
        return cls(
            database=env.text("clickhouse_database", d.database, environ),
            group_id=env.text("ingest_group", d.group_id, environ),
            batch_size=env.integer("ingest_batch_size", d.batch_size, environ),
            batch_wait_s=env.number("ingest_batch_wait_s", d.batch_wait_s, environ),
            fetch_wait_ms=env.integer("ingest_fetch_wait_ms", d.fetch_wait_ms, environ),
            session_timeout_ms=env.integer(
                "ingest_session_timeout_ms", d.session_timeout_ms, environ),
            heartbeat_interval_ms=env.integer(
                "ingest_heartbeat_interval_ms", d.heartbeat_interval_ms, environ),
            attribution_grace_s=env.number(
                "ingest_attribution_grace_s", d.attribution_grace_s, environ
            ),
            visitor_settle_s=env.number("ingest_visitor_settle_s", d.visitor_settle_s, environ),
            click_lookup=env.flag("ingest_click_lookup", d.click_lookup, environ),
            click_memory=env.integer("ingest_click_memory", d.click_memory, environ),
            retry_initial_s=env.number("ingest_retry_initial_s", d.retry_initial_s, environ),
            retry_max_s=env.number("ingest_retry_max_s", d.retry_max_s, environ),
            stop_timeout_s=env.number("ingest_stop_timeout_s", d.stop_timeout_s, environ),
            kafka_idempotence=env.flag("kafka_idempotence", d.kafka_idempotence, environ),
        )
