from __future__ import annotations

from pathlib import Path

import pytest

from turnout.control.migrate import MigrationError as ControlMigrationError
from turnout.control.migrate import load_migrations as control_migrations
from turnout.ingest.migrate import MigrationError as IngestMigrationError
from turnout.ingest.migrate import load_migrations as ingest_migrations
from turnout.migration_files import MigrationError, load_migrations, pending


def _files(folder: Path, **files: str) -> Path:
    for name, sql in files.items():
        (folder / name).write_text(sql)
    return folder


def test_files_load_in_version_order_with_checksums(tmp_path: Path) -> None:
    folder = _files(tmp_path, **{"0010_b.sql": "SELECT 2;\n", "0002_a.sql": "SELECT 1;\n"})
    found = load_migrations(folder)
    assert [(m.version, m.name) for m in found] == [(2, "0002_a.sql"), (10, "0010_b.sql")]
    assert found[0].checksum != found[1].checksum and len(found[0].checksum) == 64


@pytest.mark.parametrize(("files", "message"), [
    ({"1_short.sql": ""}, "named NNNN_name.sql"),
    ({"0001_Upper.sql": ""}, "named NNNN_name.sql"),
    ({"0001_a.sql": "", "0001_b.sql": ""}, "version 1 is used twice"),
])
def test_bad_names_raise_the_runners_own_error(tmp_path: Path, files: dict[str, str],
                                                message: str) -> None:
    folder = _files(tmp_path, **files)
    for load, error in ((ingest_migrations, IngestMigrationError),
                        (control_migrations, ControlMigrationError)):
        with pytest.raises(error, match=message):
            load(folder)
    assert issubclass(ControlMigrationError, MigrationError)
    assert issubclass(IngestMigrationError, MigrationError)


def test_pending_skips_what_was_applied_and_refuses_a_changed_file(tmp_path: Path) -> None:
    one, two = load_migrations(_files(tmp_path, **{"0001_a.sql": "A", "0002_b.sql": "B"}))
    assert pending([one, two], {}) == [one, two]
    assert pending([one, two], {1: one.checksum}) == [two]
    with pytest.raises(MigrationError, match=r"0001_a\.sql changed after it was applied"):
        pending([one, two], {1: two.checksum})


def test_both_packaged_folders_load() -> None:
    assert [m.version for m in ingest_migrations()][:2] == [1, 2]
    assert control_migrations()[0].name.startswith("0001_")
