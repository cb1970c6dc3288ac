"""The config package's one root exception, and the problem records validation returns."""

from __future__ import annotations

from dataclasses import dataclass

from turnout.errors import TurnoutError


@dataclass(frozen=True, slots=True, order=True)
class Problem:
    path: str  # e.g. "campaigns[3].rules[1].destinations[0].weight"
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class ConfigError(TurnoutError):
    retriable = False


class GraphInvalid(ConfigError):
    """The graph has problems; every one of them is in `problems`."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(f"{len(problems)} problem(s): " + "; ".join(map(str, problems[:5])))
        self.problems = problems


class VersionNotFound(ConfigError):
    def __init__(self, version: int) -> None:
        super().__init__(f"graph version {version} does not exist")
        self.version = version


class StoreUnavailable(ConfigError):
    """Redis could not be reached; trying again later may work."""

    retriable = True
