"""Parsed YAML/JSON -> Graph, one entity at a time, so every broken entity is reported.

A file with several malformed entities gets one problem per entity (with its path)
instead of stopping at the first. `Sections` takes either a whole section's value or its
items one by one as a reader produces them, so a reader can hand over each entity as
soon as it is parsed and never hold the whole document as plain lists and dicts.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, Final

import msgspec

from turnout.config.errors import GraphInvalid, Problem
from turnout.config.model import SECTIONS, Entity, Graph

_TYPES: Final[dict[str, type[Entity]]] = dict(SECTIONS)
_MONEY_FIELDS: Final = frozenset({"payout", "value", "budget"})
_AT = re.compile(r"^(?P<message>.*?)(?: - at `(?:`(?P<key>key)` in `)?\$(?P<path>[^`]*)`)?$",
                 re.DOTALL)
_FIELD = re.compile(r"^Object (?P<what>contains unknown|missing required) field `(?P<name>[^`]*)`$")


def problem_from(exc: msgspec.ValidationError, prefix: str) -> Problem:
    match = _AT.match(str(exc))
    assert match is not None  # the pattern accepts any text
    message, path = match["message"], match["path"] or ""
    path = prefix + path
    if match["key"]:
        message += " (in a key)"
    field = _FIELD.match(message)
    if field:
        path = f"{path}.{field['name']}"
        message = "unknown field" if field["what"] == "contains unknown" else "required"
    elif message.startswith("Expected `str`") and path.rsplit(".", 1)[-1] in _MONEY_FIELDS:
        message += ' (write amounts as decimal strings, e.g. "12.50")'
    return Problem(path, message)


def is_section(name: object) -> bool:
    return isinstance(name, str) and name in _TYPES


class Sections:
    """The sections of one graph document, fed in document order."""

    __slots__ = ("_sections", "problems")

    def __init__(self) -> None:
        self.problems: list[Problem] = []
        self._sections: dict[str, tuple[Any, ...]] = {}

    def add(self, name: object, items: object) -> None:
        """A top-level entry as parsed: checked to be a known section holding a list."""
        if not is_section(name):
            self.problems.append(Problem(str(name), "unknown section"))
        elif items is None:
            return
        elif not isinstance(items, list | tuple):
            self.problems.append(Problem(str(name), "must be a list"))
        else:
            self.add_items(str(name), items)

    def add_items(self, name: str, items: Iterable[object]) -> None:
        """The entities of the known section `name`, decoded as they come."""
        kind = _TYPES[name]
        decoded = []
        for index, item in enumerate(items):
            try:
                decoded.append(msgspec.convert(item, kind))
            except msgspec.ValidationError as exc:
                self.problems.append(problem_from(exc, f"{name}[{index}]"))
        self._sections[name] = tuple(decoded)

    def graph(self) -> Graph:
        if self.problems:
            raise GraphInvalid(self.problems)
        return Graph(**self._sections)


def graph_from_builtins(data: object) -> Graph:
    """Decode parsed YAML/JSON into a Graph, or raise GraphInvalid listing every problem."""
    if not isinstance(data, dict):
        raise GraphInvalid([Problem("", "the graph must be a mapping of sections")])
    sections = Sections()
    for name, items in data.items():
        sections.add(name, items)
    return sections.graph()
