"""Where the backing services are: one variable each points at an external one."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from turnout import env


@dataclass(frozen=True, slots=True)
class Connections:
    redis_url: str
    """Redis or Valkey holding the published campaign graph versions."""
    kafka_bootstrap: str
    """Kafka bootstrap servers, comma-separated `host:port`."""
    clickhouse_dsn: str
    """ClickHouse: `http://user:pass@host:8123/` for a server, `chdb:///abs/path` for the
    embedded engine (one process per data path).

    Default: `chdb://` + TURNOUT_DATA_DIR + `/chdb`"""
    data_dir: Path
    """Local state, resolved against the working directory: the edge's event spool, the
    embedded chdb, Valkey, tansu and PostgreSQL data of `turnout dev`, and its logs."""
    kafka_cluster: str = ""
    """Name of the Kafka cluster. The edge tags its spool segments with it and replays only
    its own cluster's, so it must stay the same when the cluster's address changes (and
    differ between clusters); unset: the bootstrap servers name it. `turnout dev` sets one
    kept in `<data dir>/kafka-cluster`."""
    postgres_url: str | None = None
    """PostgreSQL of the control plane, `postgresql://user:pass@host:5432/turnout` (a libpq
    URI); unset: no control plane, and `turnout migrate` applies only the ClickHouse
    migrations. Never logged (it may carry a password)."""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Connections:
        data_dir = Path(env.text("data_dir", ".turnout", environ)).resolve()
        return cls(
            redis_url=env.text("redis_url", "redis://127.0.0.1:6379/0", environ),
            kafka_bootstrap=env.text("kafka_bootstrap", "127.0.0.1:9092", environ),
            clickhouse_dsn=env.text("clickhouse_dsn", f"chdb://{data_dir / 'chdb'}", environ),
            data_dir=data_dir,
            kafka_cluster=env.text("kafka_cluster", "", environ),
            postgres_url=env.raw("postgres_url", environ) or None,
        )
