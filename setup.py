"""The C accelerators: `splitter.decide`'s loop and the sink's partitioner; the rest of the
build is in pyproject.toml.

Each source's SHA-256 is compiled in, so a test can tell a stale build from a current one.
"""

import hashlib
from pathlib import Path

from setuptools import Extension, setup

HERE = Path(__file__).parent


def accelerator(name: str, source: str) -> Extension:
    digest = hashlib.sha256(HERE.joinpath(source).read_bytes()).hexdigest()
    return Extension(name, [source], define_macros=[("SOURCE_SHA256", f'"{digest}"')],
                     extra_compile_args=["-O2", "-Wall"])


setup(
    ext_modules=[
        accelerator("turnout.splitter._decide", "splitter/_decide.c"),
        accelerator("turnout.edge.sink._murmur2", "edge/sink/_murmur2.c"),
    ]
)
