"""The import-time check of the clickhouse-connect internals ingest.store relies on."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from turnout.ingest import driver_internals
from turnout.ingest.driver_internals import TESTED_RANGE, DriverMismatch, Internal

ROOT = Path(__file__).resolve().parents[3]
TRANSFORM = "clickhouse_connect.driver.transform"


def test_the_installed_version_has_every_internal_used() -> None:
    assert driver_internals.missing() == []
    driver_internals.require()


def test_the_tested_range_is_the_one_pyproject_pins() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    pins = [d for d in pyproject["project"]["dependencies"] if d.startswith("clickhouse-connect")]
    assert pins == [TESTED_RANGE]


def test_each_missing_piece_is_named() -> None:
    used = (
        Internal(TRANSFORM, "NativeTransform", ("build_insert", "build_insert_v2")),
        Internal(TRANSFORM, "NoSuchTransform"),
        Internal("clickhouse_connect.driver.no_such_module", "Thing"),
        Internal(
            "clickhouse_connect.driver.insert", "InsertContext",
            instance_attributes=("table", "insert_failure"),
            probe=lambda cls: cls("probe", (), ()),
        ),
        Internal(
            "clickhouse_connect.driver.client", "Client", ("raw_insert",),
            keywords=(("raw_insert", ("settings", "format_name")),),
        ),
    )
    problems = driver_internals.missing(used)
    assert problems[:3] == [
        f"{TRANSFORM}.NativeTransform.build_insert_v2",
        f"{TRANSFORM}.NoSuchTransform",
        problems[2],
    ]
    assert problems[2].startswith("clickhouse_connect.driver.no_such_module.Thing (module")
    assert problems[3:] == [
        "clickhouse_connect.driver.insert.InsertContext().insert_failure",
        "clickhouse_connect.driver.client.Client.raw_insert(format_name=...)",
    ]
    with pytest.raises(DriverMismatch) as info:
        driver_internals.require(used)
    assert isinstance(info.value, ImportError)
    message = str(info.value)
    assert TESTED_RANGE in message
    for problem in problems:
        assert problem in message


def test_a_class_that_cannot_be_probed_is_named() -> None:
    used = (
        Internal(
            "clickhouse_connect.driver.insert", "InsertContext",
            instance_attributes=("table",), probe=lambda cls: cls(),
        ),
    )
    [problem] = driver_internals.missing(used)
    assert problem.startswith("clickhouse_connect.driver.insert.InsertContext() (cannot build")


def test_importing_the_store_fails_naming_what_is_gone() -> None:
    # A fresh interpreter, so the check really runs at import: as after an upgrade that
    # dropped the serializer entry point and renamed a context attribute.
    script = (
        "import clickhouse_connect.driver.transform as t, clickhouse_connect.driver.insert as i\n"
        "del t.NativeTransform.build_insert\n"
        "init = i.InsertContext.__init__\n"
        "def renamed(self, *a, **k):\n"
        "    init(self, *a, **k)\n"
        "    self.insert_error = self.__dict__.pop('insert_exception')\n"
        "i.InsertContext.__init__ = renamed\n"
        "import turnout.ingest.store\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("turnout.ingest.driver_internals.DriverMismatch:"), last
    assert f"{TRANSFORM}.NativeTransform.build_insert" in last
    assert "clickhouse_connect.driver.insert.InsertContext().insert_exception" in last
    assert TESTED_RANGE in last
