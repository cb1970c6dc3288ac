"""The compiled parts of the build; the rest of it is in pyproject.toml.

- C accelerators: `splitter.decide`'s loop and the sink's partitioner. Each source's
  SHA-256 is compiled in, so a test can tell a stale build from a current one.
- The click path's Python modules (`[tool.turnout] compiled` in pyproject.toml), compiled
  unchanged by Cython: the same code, without the interpreter's dispatch (docs/decisions.md).
  Each build gets its source's SHA-256 in a file beside it, so that the import guard
  (turnout/compiled.py) runs the source instead of a build older than it.
"""

import hashlib
import os
import tomllib
from pathlib import Path

from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = Path(__file__).parent
PROJECT = tomllib.loads(HERE.joinpath("pyproject.toml").read_text())
# Compiled as plain Python: annotations stay annotations (no C types, no argument checks).
DIRECTIVES = {"language_level": 3, "annotation_typing": False, "binding": True}


def digest(source: str) -> str:
    return hashlib.sha256(HERE.joinpath(source).read_bytes()).hexdigest()


def accelerator(name: str, source: str) -> Extension:
    return Extension(name, [source], define_macros=[("SOURCE_SHA256", f'"{digest(source)}"')],
                     extra_compile_args=["-O2", "-Wall"])


def module_name(source: str) -> str:
    """The installed name of a source: edge/sink/batches.py -> turnout.edge.sink.batches."""
    folders = PROJECT["tool"]["setuptools"]["package-dir"]
    packages = {folder: name for name, folder in folders.items()}
    parts = source.removesuffix(".py").split("/")
    for end in range(len(parts) - 1, 0, -1):
        package = packages.get("/".join(parts[:end]))
        if package is not None:
            return ".".join([package, *parts[end:]])
    raise ValueError(f"{source} is in no package of [tool.setuptools] package-dir")


COMPILED = {module_name(source): source for source in PROJECT["tool"]["turnout"]["compiled"]}
# Read before Cython reads the sources: a file edited during the build gets a record that
# does not match it, so its source runs (never a build taken for a newer source).
DIGESTS = {name: digest(source) for name, source in COMPILED.items()}


class BuildExt(build_ext):
    """build_ext on every core, writing beside a compiled module's build its source's
    digest (in the build folder, and in the source tree for an editable install)."""

    def finalize_options(self) -> None:
        super().finalize_options()
        self.parallel = self.parallel or os.cpu_count() or 1

    def build_extension(self, ext: Extension) -> None:
        super().build_extension(ext)
        self._record(ext, self.get_ext_fullpath(ext.name))

    def copy_extensions_to_source(self) -> None:
        super().copy_extensions_to_source()
        build_py = self.get_finalized_command("build_py")
        for ext in self.extensions:
            self._record(ext, self._get_inplace_equivalent(build_py, ext)[0])

    def _record(self, ext: Extension, built: str) -> None:
        if ext.name in DIGESTS:
            Path(built + ".sha256").write_text(DIGESTS[ext.name] + "\n")


setup(
    cmdclass={"build_ext": BuildExt},
    ext_modules=[
        accelerator("turnout.splitter._decide", "splitter/_decide.c"),
        accelerator("turnout.edge.sink._murmur2", "edge/sink/_murmur2.c"),
        *cythonize([Extension(name, [source], extra_compile_args=["-O2", "-g0"])
                    for name, source in COMPILED.items()],
                   # force: the C of every module from its source as it is now, whatever
                   # the files' times say (the digest beside each build vouches for it)
                   build_dir="build/cython", compiler_directives=DIRECTIVES, force=True,
                   nthreads=os.cpu_count() or 1, quiet=True),
    ],
)
