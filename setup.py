"""The C accelerator of `splitter.decide`; the rest of the build is in pyproject.toml.

The source's SHA-256 is compiled in, so a test can tell a stale build from a current one.
"""

import hashlib
from pathlib import Path

from setuptools import Extension, setup

SOURCE = "splitter/_decide.c"
DIGEST = hashlib.sha256(Path(__file__).parent.joinpath(SOURCE).read_bytes()).hexdigest()

setup(
    ext_modules=[
        Extension(
            "turnout.splitter._decide",
            [SOURCE],
            define_macros=[("SOURCE_SHA256", f'"{DIGEST}"')],
            extra_compile_args=["-O2", "-Wall"],
        )
    ]
)
