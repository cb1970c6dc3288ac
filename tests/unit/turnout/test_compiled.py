"""The compiled click path: built and current in this environment, and a stale build never
runs in place of its source (turnout/compiled.py)."""

from __future__ import annotations

import hashlib
import importlib
import importlib.machinery
import sys
import sysconfig
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from turnout.cli.settings_doc import source_files
from turnout.compiled import (
    CompiledGuard,
    CompiledSettings,
    StaleBuild,
    digest_path,
    install_guard,
)

ROOT = Path(__file__).resolve().parents[3]
SUFFIX = sysconfig.get_config_var("EXT_SUFFIX")


def compiled_sources() -> list[str]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["turnout"]["compiled"]


def module_of(source: str) -> str:
    """edge/sink/batches.py -> turnout.edge.sink.batches, by the settings doc's scan of the
    installed modules (pyproject's package-dir)."""
    return {path: module for module, path in source_files()}[ROOT / source]


@pytest.mark.parametrize("source", compiled_sources())
def test_every_listed_module_runs_compiled_from_its_current_source(source: str) -> None:
    module = importlib.import_module(module_of(source))
    assert module.__file__ == str((ROOT / source).resolve().with_suffix(SUFFIX)), (
        f"{source} is not running compiled: `make install` builds it")
    recorded = digest_path(Path(module.__file__)).read_text().strip()
    assert recorded == hashlib.sha256((ROOT / source).read_bytes()).hexdigest()


def test_the_guard_is_installed_first() -> None:
    install_guard()  # a second call adds nothing
    guards = [finder for finder in sys.meta_path if isinstance(finder, CompiledGuard)]
    assert len(guards) == 1 and sys.meta_path[0] is guards[0]


@pytest.fixture
def package(tmp_path: Path) -> Iterator[Path]:
    """A package `guarded_pkg` with `mod.py` and, beside it, a file named as its extension
    build (not a loadable one: importing it would fail)."""
    folder = tmp_path / "guarded_pkg"
    folder.mkdir()
    (folder / "__init__.py").write_text("")
    (folder / "mod.py").write_text("WHERE = 'source'\n")
    (folder / f"mod{SUFFIX}").write_bytes(b"not an extension module")
    sys.path.insert(0, str(tmp_path))
    yield folder
    sys.path.remove(str(tmp_path))
    for name in [name for name in sys.modules if name.startswith("guarded_pkg")]:
        del sys.modules[name]


def spec_of(guard: CompiledGuard) -> importlib.machinery.ModuleSpec | None:
    package = importlib.import_module("guarded_pkg")
    return guard.find_spec("guarded_pkg.mod", package.__path__)


def record(package: Path, text: str) -> None:
    digest = hashlib.sha256(text.encode()).hexdigest()
    digest_path(package / f"mod{SUFFIX}").write_text(digest + "\n")


def test_a_build_of_the_current_source_is_loaded(package: Path) -> None:
    record(package, "WHERE = 'source'\n")
    spec = spec_of(CompiledGuard(prefix="guarded_pkg."))
    assert spec is not None
    assert isinstance(spec.loader, importlib.machinery.ExtensionFileLoader)
    assert spec.origin == str(package / f"mod{SUFFIX}")


@pytest.mark.parametrize("recorded", ["WHERE = 'an older source'\n", None])
def test_a_stale_or_unrecorded_build_gives_way_to_its_source(package: Path,
                                                             recorded: str | None) -> None:
    if recorded is not None:
        record(package, recorded)
    guard = CompiledGuard(prefix="guarded_pkg.")
    sys.meta_path.insert(0, guard)
    try:
        with pytest.warns(StaleBuild, match="guarded_pkg.mod: mod.* was not built from"):
            module = importlib.import_module("guarded_pkg.mod")
    finally:
        sys.meta_path.remove(guard)
    assert module.WHERE == "source"
    assert module.__file__ == str(package / "mod.py")


def test_interpreted_mode_loads_the_source_of_a_current_build(package: Path) -> None:
    record(package, "WHERE = 'source'\n")
    spec = spec_of(CompiledGuard(prefix="guarded_pkg.", interpreted=True))
    assert spec is not None and spec.origin == str(package / "mod.py")


def test_an_extension_with_no_source_beside_it_is_left_alone(package: Path) -> None:
    (package / "mod.py").unlink()  # as splitter/_decide.c's build: C, no .py of that name
    spec = spec_of(CompiledGuard(prefix="guarded_pkg."))
    assert spec is not None
    assert isinstance(spec.loader, importlib.machinery.ExtensionFileLoader)


def test_modules_outside_the_prefix_are_not_looked_at(package: Path) -> None:
    assert CompiledGuard(prefix="turnout.").find_spec("guarded_pkg.mod", None) is None


def test_interpreted_mode_is_read_from_the_environment() -> None:
    assert CompiledSettings.from_env({}).interpreted is False
    assert CompiledSettings.from_env({"TURNOUT_INTERPRETED": "1"}).interpreted is True
