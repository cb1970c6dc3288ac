"""What `turnout dev` keeps across runs in its data dir."""

from __future__ import annotations

import stat
from pathlib import Path

from turnout.local import identity


def test_the_cluster_name_is_made_once_and_kept(tmp_path: Path) -> None:
    name = identity.kafka_cluster(tmp_path / "data")
    assert name.startswith("turnout-dev-") and name.replace("-", "").isalnum()
    assert identity.kafka_cluster(tmp_path / "data") == name
    assert identity.kafka_cluster(tmp_path / "other") != name


def test_the_edge_secret_is_kept_readable_by_its_owner_only(tmp_path: Path) -> None:
    path = identity.edge_secret_file(tmp_path)
    secret = path.read_text().strip()
    assert len(secret) >= 32 and stat.S_IMODE(path.stat().st_mode) == 0o600
    path.chmod(0o644)  # loosened by hand: tightened again, the secret kept
    assert identity.edge_secret_file(tmp_path) == path and path.read_text().strip() == secret
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_an_empty_file_left_by_a_crash_is_made_again(tmp_path: Path) -> None:
    (tmp_path / identity.CLUSTER_FILE).write_text("")
    assert identity.kafka_cluster(tmp_path).startswith("turnout-dev-")
