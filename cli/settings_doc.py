"""docs/settings.md, generated from the settings classes.

    python -m turnout.cli.settings_doc [--write]

prints the reference (or rewrites docs/settings.md). What each variable does is the
docstring under its field; its name, type and default are read from the class's
`from_env`, so they are what the code reads. A docstring paragraph `Default: ...` says the
default in words where the code computes it. tests/unit/cli/test_settings_doc.py fails when
the doc and this output differ, or when any source file reads a variable the doc lacks.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import inspect
import sys
import textwrap
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

from turnout import env
from turnout.api.settings import ApiSettings
from turnout.cli.report import ApiClientSettings
from turnout.compiled import CompiledSettings
from turnout.connections import Connections
from turnout.dashboard.settings import DashboardSettings
from turnout.edge.settings import EdgeSettings
from turnout.edge.sink.settings import SinkSettings
from turnout.governor.postback_settings import PostbackSettings
from turnout.governor.settings import GovernorSettings
from turnout.governor.task_settings import AutomationSettings, WebhookSettings
from turnout.ingest.settings import IngestSettings

ROOT: Final = Path(__file__).resolve().parents[1]
DOC: Final = ROOT / "docs" / "settings.md"
KINDS: Final = {"text": "text", "raw": "text", "integer": "integer", "number": "number",
                "flag": "boolean", "listing": "list"}
# Each class, the section it opens and the commands that read it.
SOURCES: Final[tuple[tuple[type, str, str], ...]] = (
    (Connections, "Where the services are", "every command"),
    (EdgeSettings, "Edge", "edge"),
    (SinkSettings, "Edge: event buffer, Kafka producer and spool", "edge"),
    (IngestSettings, "Ingest", "ingest, migrate"),
    (ApiSettings, "Report API", "api, report, ingest --api"),
    (ApiClientSettings, "`turnout report` through a running API", "report"),
    (DashboardSettings, "Dashboard (/ui)", "api, ingest --api"),
    (GovernorSettings, "Governor", "governor, ingest --governor"),
    (AutomationSettings, "Governor: automation rules", "governor, ingest --governor"),
    (WebhookSettings, "Governor: webhooks", "governor, ingest --governor"),
    (PostbackSettings, "Governor: postbacks to traffic sources", "governor, ingest --governor"),
    (CompiledSettings, "Compiled click path", "every command"),
)


class SettingsDocError(Exception):
    """A setting the generator cannot document; the message says what to add."""


@dataclasses.dataclass(slots=True)
class Variable:
    name: str  # TURNOUT_...
    kind: str
    section: str
    descriptions: dict[str, str]  # readers -> what it does for them, in the order first seen
    defaults: dict[str, str]  # readers -> default
    readers: list[str]


@dataclasses.dataclass(frozen=True, slots=True)
class Read:
    """One read of a variable in the source: `env.integer("edge_port", 8080, environ)`."""

    name: str
    kind: str
    default: ast.expr | None


def read_of(node: ast.AST) -> Read | None:
    if not isinstance(node, ast.Call) or not node.args:
        return None
    first, func = node.args[0], node.func
    if not (isinstance(first, ast.Constant) and isinstance(first.value, str)
            and isinstance(func, ast.Attribute)):
        return None
    if isinstance(func.value, ast.Name) and func.value.id == "env" and func.attr in KINDS:
        default = node.args[1] if len(node.args) > 1 and func.attr != "raw" else None
        return Read(env.PREFIX + first.value.upper(), func.attr, default)
    if func.attr == "get" and first.value.startswith(env.PREFIX):  # os.environ.get(...)
        return Read(first.value, "text", None)
    return None


def reads_in(tree: ast.AST) -> Iterator[Read]:
    for node in ast.walk(tree):
        read = read_of(node)
        if read is not None:
            yield read


def _docstrings(cls: type) -> dict[str, str]:
    """Field name -> the string literal right under it in the class body."""
    body = ast.parse(textwrap.dedent(inspect.getsource(cls))).body[0]
    assert isinstance(body, ast.ClassDef)
    found = {}
    for field, after in zip(body.body, body.body[1:], strict=False):
        if (isinstance(field, ast.AnnAssign) and isinstance(field.target, ast.Name)
                and isinstance(after, ast.Expr) and isinstance(after.value, ast.Constant)
                and isinstance(after.value.value, str)):
            found[field.target.id] = inspect.cleandoc(after.value.value)
    return found


def _field_reads(cls: type) -> dict[str, Read]:
    """Field name -> the variable `from_env` reads it from (through local names too)."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(cls.from_env)))
    local: dict[str, list[ast.expr]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    local.setdefault(target.id, []).append(node.value)
    built = [node.value for node in ast.walk(tree) if isinstance(node, ast.Return)
             and isinstance(node.value, ast.Call) and isinstance(node.value.func, ast.Name)
             and node.value.func.id == "cls"]
    found = {}
    for keyword in built[0].keywords if built else ():
        # `secret=secret.encode()`: the read is in the assignment of a local name. Only a
        # value without a read of its own is followed (a default may name another local).
        seen = list(reads_in(keyword.value))
        if not seen:
            names = {n.id for n in ast.walk(keyword.value) if isinstance(n, ast.Name)}
            seen = [read for name in sorted(names & set(local)) for value in local[name]
                    for read in reads_in(value)]
        if len(seen) > 1:
            raise SettingsDocError(f"{cls.__name__}.{keyword.arg}: reads {len(seen)} variables")
        if seen and keyword.arg:
            found[keyword.arg] = seen[0]
    return found


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "`true`" if value else "`false`"
    if isinstance(value, tuple):
        value = ",".join(map(str, value))
    return "empty" if value == "" else f"`{value}`"


def _default(cls: type, read: Read, said: str | None) -> str:
    if said is not None:
        return said
    node = read.default
    if node is None:
        return "unset"
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) \
            and node.value.id == "d":  # `d = cls()`: the field's own default
        return _text(next(f.default for f in dataclasses.fields(cls) if f.name == node.attr))
    if not any(isinstance(n, ast.Call) for n in ast.walk(node)):
        module = sys.modules[cls.__module__]
        names = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
        if names <= set(vars(module)):
            return _text(eval(compile(ast.Expression(node), "<default>", "eval"),
                              {"__builtins__": {}}, {n: getattr(module, n) for n in names}))
    raise SettingsDocError(f"{read.name}: the default is computed; add a 'Default: ...' "
                           f"paragraph to the docstring of its field in {cls.__qualname__}")


def _split(doc: str) -> tuple[str, str | None]:
    """(description, the `Default: ...` paragraph's text or None), each on one line."""
    parts = doc.split("\n\n")
    said = None
    if parts[-1].startswith("Default:"):
        said = " ".join(parts.pop().removeprefix("Default:").split())
    return " ".join(" ".join(parts).split()), said


def variables(sources: tuple[tuple[type, str, str], ...] = SOURCES) -> dict[str, Variable]:
    """Every variable of the classes, and the commands that read one outside them too."""
    found = class_variables(sources)
    for command, read in direct_reads(sources):
        if read.name not in found:
            raise SettingsDocError(f"{read.name} is read outside a settings class ({command}): "
                                   "read it through one of them, or add its class to SOURCES")
        if command not in found[read.name].readers:
            found[read.name].readers.append(command)
    return found


def class_variables(sources: tuple[tuple[type, str, str], ...]) -> dict[str, Variable]:
    found: dict[str, Variable] = {}
    for cls, section, readers in sources:
        docs = _docstrings(cls)
        for field, read in _field_reads(cls).items():
            if field not in docs:
                raise SettingsDocError(f"{read.name}: document {cls.__qualname__}.{field} with "
                                       "a docstring under the field")
            description, said = _split(docs[field])
            default = _default(cls, read, said)
            known = found.get(read.name)
            if known is None:
                found[read.name] = Variable(read.name, KINDS[read.kind], section,
                                            {readers: description}, {readers: default},
                                            [readers])
            else:
                known.descriptions.setdefault(readers, description)
                known.defaults.setdefault(readers, default)
                known.readers.append(readers)
    return found


def source_files() -> Iterator[tuple[str, Path]]:
    """(dotted module, path) of every installed module, from pyproject's package-dir."""
    folders = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-dir"]
    for package, folder in folders.items():
        if package.count(".") > 1:
            continue  # a sub-package mapped on its own is read with its part
        for path in sorted((ROOT / folder).rglob("*.py")):
            relative = path.relative_to(ROOT / folder).with_suffix("")
            yield ".".join((package, *relative.parts)).removesuffix(".__init__"), path


def direct_reads(sources: tuple[tuple[type, str, str], ...]) -> Iterator[tuple[str, Read]]:
    """Reads outside the classes' `from_env`, with the command they belong to."""
    owned = {(cls.__module__, cls.__qualname__) for cls, _, _ in sources}
    for module, path in source_files():
        if module == "turnout.env":
            continue
        tree = ast.parse(path.read_text())
        inside: set[int] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef) and (module, node.name) in owned:
                inside.update(id(n) for n in ast.walk(node))
        command = module.removeprefix("turnout.cli.").replace("_", "-") \
            if module.startswith("turnout.cli.") else module
        for node in ast.walk(tree):
            read = read_of(node)
            if read is not None and id(node) not in inside:
                yield command, read


def _cell(by_readers: dict[str, str], separator: str) -> str:
    """One text when every reader says the same, else each reader's own."""
    texts = set(by_readers.values())
    text = next(iter(texts)) if len(texts) == 1 else separator.join(
        f"*{readers}*: {value}" for readers, value in by_readers.items())
    return text.replace("|", "\\|")


def render(sources: tuple[tuple[type, str, str], ...] = SOURCES) -> str:
    found = variables(sources)
    lines = [
        "# Settings",
        "",
        "<!-- Generated by `python -m turnout.cli.settings_doc --write` from the settings "
        "classes: edit the docstrings under their fields, not this file. -->",
        "",
        "Every setting is an environment variable, read once when a command starts; the "
        "command's flags override it. A variable read through `turnout.env` may instead "
        "name a file in `<VARIABLE>_FILE` (Docker and Kubernetes secrets), which wins when "
        "both are set (`TURNOUT_API_URL` and `TURNOUT_API_KEY` are plain variables). "
        "Booleans are `1`/`true`/`yes`/`on` or `0`/`false`/`no`/`off`; lists are "
        "comma-separated; an empty value means the default.",
        "",
        f"{len(found)} variables. *Read by* names the `turnout` commands that read one.",
    ]
    for _, section, _ in sources:
        rows = [v for v in found.values() if v.section == section]
        lines += ["", f"## {section}", "",
                  "| variable | type | default | read by | what it does |",
                  "|---|---|---|---|---|"]
        for v in rows:
            lines.append(f"| `{v.name}` | {v.kind} | {_cell(v.defaults, '; ')} | "
                         f"{', '.join(v.readers)} | {_cell(v.descriptions, ' ')} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help=f"rewrite {DOC}")
    args = parser.parse_args(argv)
    if args.write:
        DOC.write_text(render())
    else:
        sys.stdout.write(render())
    return 0


if __name__ == "__main__":
    sys.exit(main())
