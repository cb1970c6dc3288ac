"""The root of every turnout error, and the exit codes the `turnout` command ends with.

Each part has its own root (`ConfigError`, `EdgeError`, `SplitterError`, ...) under
`TurnoutError`. `retriable` says whether trying again later may help: a service that could
not be reached is retriable, bad input is not.
"""

from __future__ import annotations

from typing import Final

EXIT_OK: Final = 0
EXIT_FAILURE: Final = 1  # an unexpected error (a bug): the traceback is printed
EXIT_USAGE: Final = 2  # the command line itself is wrong (argparse's own code)
EXIT_BAD_INPUT: Final = 3  # a file, graph, parameter or answer that cannot be used as given
EXIT_UNAVAILABLE: Final = 4  # a service (Redis, Kafka, ClickHouse, the API) could not be reached


class TurnoutError(Exception):
    """Root of turnout's errors; `retriable` tells a caller whether trying again may help."""

    retriable = False

    @property
    def exit_code(self) -> int:
        return EXIT_UNAVAILABLE if self.retriable else EXIT_BAD_INPUT
