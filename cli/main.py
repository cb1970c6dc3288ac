"""The one `turnout` console script; each component registers its own subcommands."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from turnout import __version__
from turnout.cli.parser import Parser
from turnout.errors import (
    EXIT_BAD_INPUT,
    EXIT_FAILURE,
    EXIT_OK,
    EXIT_UNAVAILABLE,
    EXIT_USAGE,
    TurnoutError,
)

# Modules that expose `register(subparsers)`. Heavy imports stay inside the handlers so
# `turnout --help` and `turnout graph validate` start fast.
COMMAND_MODULES = (
    "turnout.cli.campaign",
    "turnout.cli.dev",
    "turnout.cli.governor",
    "turnout.cli.graph",
    "turnout.cli.edge",
    "turnout.cli.fx",
    "turnout.cli.ingest",
    "turnout.cli.key",
    "turnout.cli.migrate",
    "turnout.cli.report",
    "turnout.cli.simulate",
)

EXIT_CODES = (
    (EXIT_OK, "success"),
    (EXIT_FAILURE, "an unexpected error (a bug): the traceback is printed"),
    (EXIT_USAGE, "the command line is wrong (unknown flag, missing argument)"),
    (EXIT_BAD_INPUT, "bad input: an invalid graph, file, parameter or setting"),
    (EXIT_UNAVAILABLE, "a service (Redis, Kafka, ClickHouse, the API) could not be reached"),
)


def build_parser() -> Parser:
    parser = Parser(
        prog="turnout", description=__doc__,
        epilog="exit codes:\n" + "\n".join(f"  {code}  {what}" for code, what in EXIT_CODES),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"turnout {__version__}",
                        help="print the version and exit")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code = args.func(args)
    except TurnoutError as exc:
        # The parts raise their own roots; the flag decides the code, not the class.
        print(f"turnout {args.command}: {exc}", file=sys.stderr)
        return exc.exit_code
    return int(code or 0)


if __name__ == "__main__":
    sys.exit(main())
