"""Dependencies point one way: contracts <- splitter <- config <- {edge, ingest, reports, control}
<- {api, governor} <- {local, simulate} <- cli. A module may import its own part and the parts of
lower layers only; parts of one layer do not import each other."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Layer of each installed part; `turnout` is the root package: the shared contracts.
LAYERS = {
    "turnout": 0,
    "turnout.splitter": 1,
    "turnout.config": 2,
    "turnout.edge": 3,
    "turnout.ingest": 3,
    "turnout.reports": 3,
    "turnout.control": 3,
    "turnout.api": 4,
    "turnout.governor": 4,
    "turnout.local": 5,
    "turnout.simulate": 5,
    "turnout.dashboard": 5,
    "turnout.cli": 6,
}
OLD_TOP_LEVEL = {"edge", "ingest", "splitter", "config", "reports", "control", "api", "cli",
                 "local", "simulate", "governor", "dashboard"}


def package_dirs() -> dict[str, str]:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return pyproject["tool"]["setuptools"]["package-dir"]


def part_of(module: str) -> str:
    """`turnout.edge.sink.sink` -> `turnout.edge`; `turnout.events` -> `turnout`."""
    parts = module.split(".")
    candidate = ".".join(parts[:2])
    return candidate if candidate in LAYERS else "turnout"


def imported(tree: ast.AST, module: str) -> list[tuple[int, str]]:
    """Every absolute module name the file imports (function-level imports included)."""
    names: list[tuple[int, str]] = []
    package = module.rsplit(".", 1)[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            names.append((node.lineno, target))
            if target == "turnout":
                # `from turnout import splitter` names a part, not a contract module.
                names.extend((node.lineno, f"turnout.{alias.name}") for alias in node.names)
    return names


def source_modules() -> list[tuple[str, Path]]:
    modules = []
    for package, folder in package_dirs().items():
        if package != part_of(package):
            continue  # a sub-package folder mapped on its own is read with its part
        for path in sorted((ROOT / folder).rglob("*.py")):
            relative = path.relative_to(ROOT / folder).with_suffix("")
            name = ".".join((package, *relative.parts)).removesuffix(".__init__")
            modules.append((name, path))
    return modules


def violations(module: str, tree: ast.AST) -> list[str]:
    own = part_of(module)
    found = []
    for line, name in imported(tree, module):
        top = name.split(".")[0]
        if top in OLD_TOP_LEVEL:
            found.append(f"line {line}: `{name}` is not installed; import turnout.{name}")
            continue
        if top != "turnout":
            continue
        target = part_of(name)
        if target != own and LAYERS[target] >= LAYERS[own]:
            found.append(f"line {line}: {own} (layer {LAYERS[own]}) imports {name} "
                         f"(layer {LAYERS[target]})")
    return found


def test_every_installed_part_has_a_layer():
    for package in package_dirs():
        assert part_of(package) in LAYERS, f"{package}: give it a layer in LAYERS"


def test_imports_point_down_the_layers():
    problems = []
    for module, path in source_modules():
        for problem in violations(module, ast.parse(path.read_text(), str(path))):
            problems.append(f"{path.relative_to(ROOT)} {problem}")
    assert not problems, "\n".join(problems)


def test_tests_and_benchmarks_import_the_installed_names():
    problems = []
    for folder in ("tests", "benchmarks"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            tree = ast.parse(path.read_text(), str(path))
            for line, name in imported(tree, f"{folder}.x"):
                if name.split(".")[0] in OLD_TOP_LEVEL:
                    problems.append(f"{path.relative_to(ROOT)} line {line}: {name}")
    assert not problems, "\n".join(problems)


def test_the_check_catches_an_upward_import():
    # The rule itself: an edge module reaching into the API, or config into the edge, fails.
    assert violations("turnout.edge.app", ast.parse("from turnout.api import app"))
    assert violations("turnout.config.io", ast.parse("import turnout.edge.graph"))
    assert violations("turnout.edge.app", ast.parse("from turnout import ingest"))
    assert violations("turnout.events", ast.parse("from turnout.config.model import Graph"))
    assert violations("turnout.splitter.table", ast.parse("from config import model"))
    assert not violations("turnout.edge.app", ast.parse("from turnout.config import model"))
    assert not violations("turnout.edge.app", ast.parse("from . import routes"))
