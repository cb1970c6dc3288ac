"""The guard of the compiled modules: a build runs only while it is the build of its source.

setup.py compiles the click path's modules (`[tool.turnout] compiled` in pyproject.toml)
with Cython into extension modules beside their .py files, and writes each one's source
digest beside it (`<extension>.sha256`). Python prefers an extension module to a .py of
the same name, so a build left over from before an edit would run instead of the edited
source. This finder, first on `sys.meta_path` once `turnout` is imported, looks at every
turnout module that would load from an extension with a .py beside it: when the .py no
longer has the recorded digest (or none is recorded), the .py is loaded instead, with a
StaleBuild warning (`make install` rebuilds).

`TURNOUT_INTERPRETED=1` loads every such module from its source (CompiledSettings).
"""

from __future__ import annotations

import hashlib
import importlib.machinery
import importlib.util
import sys
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib.abc import MetaPathFinder
from importlib.machinery import ModuleSpec
from pathlib import Path
from types import ModuleType
from typing import Final

from turnout import env

DIGEST_SUFFIX: Final = ".sha256"


@dataclass(frozen=True, slots=True)
class CompiledSettings:
    interpreted: bool = False
    """Run the sources of the compiled click-path modules instead of their builds, as a
    Python profiler needs (py-spy sees no frames inside compiled code). Read when a command
    starts, before the edge's modules are imported."""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> CompiledSettings:
        d = cls()
        return cls(interpreted=env.flag("interpreted", d.interpreted, environ))


class StaleBuild(UserWarning):
    """A compiled module was not built from its current source: the source runs."""


def digest_path(extension: Path) -> Path:
    return extension.with_name(extension.name + DIGEST_SUFFIX)


def source_digest(source: Path) -> str:
    return hashlib.sha256(source.read_bytes()).hexdigest()


def source_beside(extension: Path) -> Path:
    """The .py an extension module was compiled from: `redirect.cpython-311-….so` ->
    `redirect.py` in the same folder."""
    return extension.with_name(extension.name.split(".", 1)[0] + ".py")


def is_current(extension: Path, source: Path) -> bool:
    """Whether `extension` was built from `source` as it is now."""
    try:
        recorded = digest_path(extension).read_text().strip()
    except OSError:
        return False
    return recorded == source_digest(source)


class CompiledGuard(MetaPathFinder):
    def __init__(self, prefix: str = "turnout.", interpreted: bool = False) -> None:
        self.prefix = prefix
        self.interpreted = interpreted

    def find_spec(self, fullname: str, path: Sequence[str] | None,
                  target: ModuleType | None = None) -> ModuleSpec | None:
        if not fullname.startswith(self.prefix):
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path, target)
        if spec is None or spec.origin is None or \
                not isinstance(spec.loader, importlib.machinery.ExtensionFileLoader):
            return spec
        extension = Path(spec.origin)
        source = source_beside(extension)
        if not source.is_file():
            return spec  # a C accelerator (splitter/_decide.c), not a compiled .py
        if not self.interpreted:
            if is_current(extension, source):
                return spec
            warnings.warn(f"{fullname}: {extension.name} was not built from the current "
                          f"{source.name}; running the source (`make install` rebuilds it)",
                          StaleBuild, stacklevel=2)
        return importlib.util.spec_from_file_location(fullname, source)


def install_guard() -> None:
    """Put the guard first on sys.meta_path (once)."""
    if not any(isinstance(finder, CompiledGuard) for finder in sys.meta_path):
        interpreted = CompiledSettings.from_env().interpreted
        sys.meta_path.insert(0, CompiledGuard(interpreted=interpreted))
