"""The one `turnout` console script; each component registers its own subcommands."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# Modules that expose `register(subparsers)`. Heavy imports stay inside the handlers so
# `turnout --help` and `turnout graph validate` start fast.
COMMAND_MODULES = (
    "turnout.cli.dev",
    "turnout.cli.graph",
    "turnout.cli.edge",
    "turnout.cli.ingest",
    "turnout.cli.report",
    "turnout.cli.simulate",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="turnout", description=__doc__)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    code = args.func(args)
    return int(code or 0)


if __name__ == "__main__":
    sys.exit(main())
