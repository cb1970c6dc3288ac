"""Graph import/export as YAML or JSON; `load_graph(dump_graph(g, fmt)) == g` for both.

Each entity is decoded on its own (`config.decode`), so a file with several malformed
entities reports one problem per entity (with its path) instead of stopping at the first.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final, Literal

import msgspec
import yaml

from turnout.config.decode import graph_from_builtins
from turnout.config.errors import GraphInvalid, Problem
from turnout.config.model import Graph
from turnout.config.yaml_reader import load_yaml
from turnout.gc_pause import paused_gc

__all__ = ["FORMATS", "Format", "dump_graph", "graph_from_builtins", "load_graph"]

Format = Literal["yaml", "json"]
FORMATS: Final = ("yaml", "json")

_BaseDumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
_GRAPH_JSON: Final = msgspec.json.Decoder(Graph)


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
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; expected one of {FORMATS}")
    with paused_gc():  # millions of objects that all stay: no collection walks them
        if fmt == "json":
            return _load_json(text)
        try:
            return load_yaml(text)
        except yaml.YAMLError as exc:
            raise GraphInvalid([Problem("", f"invalid YAML: {exc}")]) from None


def _load_json(text: str) -> Graph:
    # Straight into the model when the document is right; when it is not, through
    # builtins one entity at a time, which finds every problem and not only the first.
    try:
        return _GRAPH_JSON.decode(text)
    except msgspec.MsgspecError:
        pass
    try:
        data = msgspec.json.decode(text)
    except msgspec.DecodeError as exc:
        raise GraphInvalid([Problem("", f"invalid JSON: {exc}")]) from None
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
