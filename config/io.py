"""Graph import/export as YAML or JSON; `load_graph(dump_graph(g, fmt)) == g` for both.

Each entity is decoded on its own, so a file with several malformed entities reports one
problem per entity (with its path) instead of stopping at the first.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Final, Literal

import msgspec
import yaml

from turnout.config.errors import GraphInvalid, Problem
from turnout.config.model import SECTIONS, Graph

Format = Literal["yaml", "json"]
FORMATS: Final = ("yaml", "json")

_YAML_BOOL: Final = "tag:yaml.org,2002:bool"
_YAML_FLOAT: Final = "tag:yaml.org,2002:float"
_YAML_TIMESTAMP: Final = "tag:yaml.org,2002:timestamp"
_MONEY_FIELDS: Final = frozenset({"payout", "value", "budget"})
_AT = re.compile(r"^(?P<message>.*?)(?: - at `(?:`(?P<key>key)` in `)?\$(?P<path>[^`]*)`)?$",
                 re.DOTALL)
_FIELD = re.compile(r"^Object (?P<what>contains unknown|missing required) field `(?P<name>[^`]*)`$")

_BaseLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_BaseDumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


class _Loader(_BaseLoader):  # type: ignore[misc,valid-type]
    """SafeLoader with YAML 1.2-like scalars.

    Only true/false are booleans (so the country code NO stays "NO"), timestamps stay
    text, and floats keep their literal text: the graph has no float fields, only
    decimal-string money, so `payout: 12.50` means "12.50".
    """

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag not in (_YAML_BOOL, _YAML_TIMESTAMP)]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    _YAML_BOOL, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
_Loader.add_constructor(_YAML_FLOAT, lambda loader, node: loader.construct_scalar(node))


def _problem_from(exc: msgspec.ValidationError, prefix: str) -> Problem:
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


def graph_from_builtins(data: object) -> Graph:
    """Decode parsed YAML/JSON into a Graph, or raise GraphInvalid listing every problem."""
    if not isinstance(data, dict):
        raise GraphInvalid([Problem("", "the graph must be a mapping of sections")])
    problems: list[Problem] = []
    sections: dict[str, tuple[Any, ...]] = {}
    types = dict(SECTIONS)
    for name, items in data.items():
        if name not in types:
            problems.append(Problem(str(name), "unknown section"))
            continue
        if items is None:
            continue
        if not isinstance(items, list | tuple):
            problems.append(Problem(name, "must be a list"))
            continue
        decoded = []
        for index, item in enumerate(items):
            try:
                decoded.append(msgspec.convert(item, types[name]))
            except msgspec.ValidationError as exc:
                problems.append(_problem_from(exc, f"{name}[{index}]"))
        sections[name] = tuple(decoded)
    if problems:
        raise GraphInvalid(problems)
    return Graph(**sections)


def _guess_format(text: str, path: Path | None) -> Format:
    if path is not None and path.suffix.lower() == ".json":
        return "json"
    if path is not None and path.suffix.lower() in (".yaml", ".yml"):
        return "yaml"
    return "json" if text.lstrip().startswith("{") else "yaml"


def load_graph(source: str | Path, fmt: Format | None = None) -> Graph:
    """Load a graph from a file path or from the text itself.

    A `Path`, or a one-line string naming an existing file or ending in .yaml, .yml or
    .json, is read from disk; any other string is the document. Raises GraphInvalid on
    syntax or shape errors.
    """
    path: Path | None = None
    if isinstance(source, Path):
        path = source
    elif "\n" not in source and len(source) < 4096 and (
        Path(source).is_file() or source.lower().endswith((".yaml", ".yml", ".json"))
    ):
        path = Path(source)
    if path is not None:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise GraphInvalid([Problem("", f"cannot read {path}: {exc}")]) from None
    else:
        text = str(source)
    fmt = fmt or _guess_format(text, path)
    if fmt == "json":
        try:
            data = msgspec.json.decode(text)
        except msgspec.DecodeError as exc:
            raise GraphInvalid([Problem("", f"invalid JSON: {exc}")]) from None
    elif fmt == "yaml":
        try:
            data = yaml.load(text, Loader=_Loader)  # a SafeLoader subclass
        except yaml.YAMLError as exc:
            raise GraphInvalid([Problem("", f"invalid YAML: {exc}")]) from None
        if data is None:
            data = {}
    else:
        raise ValueError(f"unknown format {fmt!r}; expected one of {FORMATS}")
    return graph_from_builtins(data)


def dump_graph(graph: Graph, fmt: Format = "yaml") -> str:
    if fmt == "json":
        return msgspec.json.format(msgspec.json.encode(graph), indent=2).decode() + "\n"
    if fmt == "yaml":
        return yaml.dump(
            msgspec.to_builtins(graph),
            Dumper=_BaseDumper,
            sort_keys=False,
            allow_unicode=True,
            default_flow_style=False,
            width=100,
        )
    raise ValueError(f"unknown format {fmt!r}; expected one of {FORMATS}")
