"""What stays the same across `turnout dev` runs on one data dir, though its ports change.

- `<data dir>/kafka-cluster`: the local Kafka cluster's name (TURNOUT_KAFKA_CLUSTER and
  tansu's `--cluster-id`), so events the edge spooled in one run are replayed by the next.
- `<data dir>/edge-secret` (mode 0600): the edge's signing secret, so visitors' cookies
  and signed click ids survive an edge restart.

Each is generated on first use and only read afterwards.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

CLUSTER_FILE = "kafka-cluster"
SECRET_FILE = "edge-secret"


def _read_or_create(path: Path, make: str) -> str:
    """The file's stripped text; written first (0600, never over another's) when absent."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    except FileExistsError:
        text = path.read_text().strip()
        if text:
            return text
        path.unlink()  # an empty file (a crash mid-write): start over
        return _read_or_create(path, make)
    with os.fdopen(fd, "w") as out:
        out.write(make + "\n")
    return make


def kafka_cluster(data_dir: Path) -> str:
    """The local Kafka cluster's name; tansu takes letters, digits, `-` and `_`."""
    data_dir.mkdir(parents=True, exist_ok=True)
    return _read_or_create(data_dir / CLUSTER_FILE, f"turnout-dev-{secrets.token_hex(8)}")


def edge_secret_file(data_dir: Path) -> Path:
    """The file holding the edge's secret (for TURNOUT_EDGE_SECRET_FILE), mode 0600."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / SECRET_FILE
    _read_or_create(path, secrets.token_urlsafe(32))
    if path.stat().st_mode & 0o077:
        path.chmod(0o600)
    return path
