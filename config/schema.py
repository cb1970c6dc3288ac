"""docs/graph.schema.json and docs/graph-format.md, generated from config/model.py.

    python -m turnout.config.schema [--write]

prints the reference (or rewrites both files). msgspec derives the shape from the structs;
the descriptions are the comments beside the fields, and the closed sets that
`config.validate` checks (statuses, kinds, modes) become enums, so an editor can complete
them. tests/unit/config/test_schema.py fails when the files and this output differ.
"""

from __future__ import annotations

import argparse
import inspect
import io
import json
import re
import sys
import tokenize
from pathlib import Path
from typing import Any, Final

import msgspec

from turnout.config import model
from turnout.config.model import SECTIONS, Graph
from turnout.events import CONVERSION_STATUSES
from turnout.splitter.types import ConditionKind

ROOT: Final = Path(__file__).resolve().parents[1]
SCHEMA: Final = ROOT / "docs" / "graph.schema.json"
DOC: Final = ROOT / "docs" / "graph-format.md"
_MEMBER: Final = re.compile(r"^    (\w+)\s*[:=]")
# What validate accepts, by (struct, field).
CHOICES: Final[dict[tuple[str, str], tuple[str, ...]]] = {
    ("Campaign", "status"): model.STATUSES,
    ("Campaign", "redirect_mode"): model.REDIRECT_MODES,
    ("CostModel", "type"): model.COST_MODELS,
    ("BotPolicy", "action"): model.BOT_ACTIONS,
    ("InactivePolicy", "action"): model.INACTIVE_ACTIONS,
    ("Destination", "kind"): model.DESTINATION_KINDS,
    ("Condition", "kind"): tuple(kind.value for kind in ConditionKind),
    ("TrafficSource", "postback_statuses"): CONVERSION_STATUSES,
}
# Fields every entity has, said once here rather than above each of them in the model.
COMMON: Final = {
    "id": "unique among the entities of its section; other entities refer to it by this",
    "workspace": "the id of the workspace it belongs to",
    "name": "shown in reports",
}


def field_comments(cls: type) -> dict[str, str]:
    """Field -> its comment: the one ending its line, else the comment lines right above."""
    source = inspect.getsource(cls)
    lines = source.splitlines()
    trailing = {token.start[0]: token.string.lstrip("# ").strip()
                for token in tokenize.generate_tokens(io.StringIO(source).readline)
                if token.type == tokenize.COMMENT
                and not lines[token.start[0] - 1].lstrip().startswith("#")}
    found = {}
    for number, line in enumerate(lines, 1):
        member = _MEMBER.match(line)  # `    name: type = ...` or an enum's `    NAME = ...`
        if member is None:
            continue
        name = member[1]
        if number in trailing:
            found[name] = trailing[number]
            continue
        above = []
        for previous in reversed(lines[:number - 1]):
            if not previous.lstrip().startswith("#"):
                break
            above.insert(0, previous.strip().lstrip("# ").strip())
        if above:
            found[name] = " ".join(above)
    return found


def _describe(definition: dict[str, Any], cls: type) -> None:
    comments = field_comments(cls)
    for name, prop in definition["properties"].items():
        text = comments.get(name) or COMMON.get(name)
        if text:
            prop["description"] = text
        choices = CHOICES.get((cls.__name__, name))
        if choices is None:
            continue
        branches = prop.get("anyOf", [prop])
        for branch in branches:
            if branch.get("type") == "array":  # a list of choices
                branch = branch["items"]
            if branch.get("type") == "string":
                branch["enum"] = list(choices)
            elif branch.get("type") == "integer":  # YAML reads a bare 302 as a number
                branch["enum"] = [int(c) for c in choices if c.isdigit()]
    if cls is model.TrafficSource:
        definition["properties"]["tokens"]["propertyNames"] = {"enum": list(model.TOKENS)}


def graph_schema() -> dict[str, Any]:
    schema = msgspec.json.schema(Graph)
    definitions = schema["$defs"]
    for name, definition in definitions.items():
        _describe(definition, getattr(model, name))
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "turnout campaign graph",
        "description": inspect.cleandoc(model.__doc__ or "").split("\n\n")[0].replace("\n", " "),
        **schema,
    }


def _type(prop: dict[str, Any]) -> str:
    if "$ref" in prop:
        name = prop["$ref"].rsplit("/", 1)[1]
        return f"[{name}](#{name.lower()})"
    if "anyOf" in prop:
        return " or ".join(_type(branch) for branch in prop["anyOf"])
    if prop.get("type") == "array":
        return f"list of {_type(prop['items'])}"
    if prop.get("type") == "object":
        return f"map of {_type(prop.get('additionalProperties', {}))}"
    if "enum" in prop:
        return " \\| ".join(f"`{json.dumps(value)}`" for value in prop["enum"])
    return str(prop.get("type", "any"))


def _default(name: str, prop: dict[str, Any], required: list[str]) -> str:
    if name in required:
        return "**required**"
    if "default" not in prop:
        return ""
    default = prop["default"]
    if isinstance(default, dict) and not default:
        return "`{}`"
    return f"`{json.dumps(default)}`"


def _escape(cell: str) -> str:
    return cell.replace("|", "\\|")


def render_markdown(schema: dict[str, Any]) -> str:
    definitions = schema["$defs"]
    lines = [
        "# The campaign graph file",
        "",
        "<!-- Generated by `python -m turnout.config.schema --write` from config/model.py: "
        "edit the model's comments, not this file. -->",
        "",
        inspect.cleandoc(model.__doc__ or ""),
        "",
        "A graph is YAML or JSON (`config/examples/graph.yaml` is a complete one); "
        "`turnout graph validate FILE` lists every problem with its path. Editors that read "
        "JSON Schema can check and complete it with [graph.schema.json](graph.schema.json) "
        "(in YAML: `# yaml-language-server: $schema=docs/graph.schema.json`). The schema "
        "checks shapes, types and the closed sets; references between entities, templates, "
        "amounts and times are checked by `turnout graph validate` only.",
        "",
        "Top-level sections: " + ", ".join(f"`{name}`" for name, _ in SECTIONS) + ".",
    ]
    order = ["Graph", *(cls.__name__ for _, cls in SECTIONS)]
    order += [name for name in definitions if name not in order]
    for name in order:
        definition = definitions[name]
        required = definition.get("required", [])
        lines += ["", f"## {name}", ""]
        if definition.get("description"):
            lines += [" ".join(definition["description"].split()), ""]
        lines += ["| field | type | default | what it is |", "|---|---|---|---|"]
        for field, prop in definition["properties"].items():
            description = _escape(prop.get("description", ""))
            lines.append(f"| `{field}` | {_type(prop)} | {_default(field, prop, required)} "
                         f"| {description} |")
    lines += ["", "## Condition kinds", "", "| kind | values |", "|---|---|"]
    kinds = field_comments(ConditionKind)
    lines += [f"| `{kind.value}` | {_escape(kinds.get(kind.name, ''))} |" for kind in ConditionKind]
    return "\n".join(lines) + "\n"


def schema_text() -> str:
    return json.dumps(graph_schema(), indent=2) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help=f"rewrite {SCHEMA} and {DOC}")
    args = parser.parse_args(argv)
    if args.write:
        SCHEMA.write_text(schema_text())
        DOC.write_text(render_markdown(graph_schema()))
    else:
        sys.stdout.write(render_markdown(graph_schema()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
