from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from turnout import env
from turnout.cli import settings_doc
from turnout.cli.settings_doc import DOC, SettingsDocError, class_variables, render, source_files

# `TURNOUT_EDGE_SECRET`, and `env.integer("edge_port", ...)` (the prefix is implied).
NAMED = re.compile(r"\b(TURNOUT_[A-Z0-9_]+)")
READ = re.compile(r"\benv\.(?:raw|text|integer|number|flag|listing)\(\s*[\"']([a-z0-9_]+)[\"']")


def documented() -> set[str]:
    return set(re.findall(r"^\| `(TURNOUT_[A-Z0-9_]+)` \|", DOC.read_text(), re.M))


def test_doc_is_the_generators_output():
    # Regenerate with `python -m turnout.cli.settings_doc --write`.
    assert DOC.read_text() == render()


def test_every_variable_the_source_names_or_reads_is_documented():
    names = documented()
    missing = []
    for module, path in source_files():
        if module == "turnout.env":
            continue  # the mechanism: its docstring's TURNOUT_NAME is a placeholder
        text = path.read_text()
        found = set(NAMED.findall(text)) | {env.PREFIX + n.upper() for n in READ.findall(text)}
        for name in found:
            if name.endswith("_"):  # a prefix, e.g. "every TURNOUT_EDGE_* variable"
                ok = any(n.startswith(name) for n in names)
            else:
                ok = name in names or name.removesuffix("_FILE") in names
            if not ok:
                missing.append(f"{path.name}: {name}")
    assert missing == []
    assert len(names) >= 55


def test_the_scan_reads_every_installed_part():
    modules = {module for module, _ in source_files()}
    assert {"turnout.connections", "turnout.edge.settings", "turnout.edge.sink.settings",
            "turnout.ingest.settings", "turnout.api.settings", "turnout.cli.ingest"} <= modules


def test_direct_reads_add_their_command():
    variables = settings_doc.variables()
    assert variables["TURNOUT_GRAPH_PREFIX"].readers[-2:] == ["ingest", "simulate"]
    assert variables["TURNOUT_KAFKA_IDEMPOTENCE"].defaults == {"edge": "`false`",
                                                               "ingest, migrate": "`true`"}
    assert variables["TURNOUT_EDGE_MAX_ATTRIBUTION_DAYS"].defaults == {"edge": "`90`"}


@dataclass(frozen=True)
class Undocumented:
    port: int = 1

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Undocumented:
        return cls(port=env.integer("test_port", 1, environ))


BASE = Path("/srv")


@dataclass(frozen=True)
class Computed:
    path: str = ""
    """Where things go."""
    hosts: tuple[str, ...] = ()
    """Hosts to ask.

    Default: none, ask nobody"""
    size: int = 8
    """How many."""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Computed:
        d = cls()
        path = env.text("test_path", str(BASE / "x"), environ)
        return cls(path=path, hosts=env.listing("test_hosts", ("a", "b"), environ),
                   size=env.integer("test_size", d.size, environ) * 2)


def test_an_undocumented_field_stops_the_generator():
    with pytest.raises(SettingsDocError, match=r"TURNOUT_TEST_PORT.*Undocumented\.port"):
        class_variables(((Undocumented, "Test", "test"),))


def test_a_computed_default_needs_words():
    with pytest.raises(SettingsDocError, match=r"TURNOUT_TEST_PATH.*Default:"):
        class_variables(((Computed, "Test", "test"),))


def test_defaults_from_the_code_and_from_words(monkeypatch):
    source = settings_doc._docstrings

    def with_path_default(cls):
        docs = source(cls)
        docs["path"] += "\n\nDefault: `/srv/x`"
        return docs

    monkeypatch.setattr(settings_doc, "_docstrings", with_path_default)
    found = class_variables(((Computed, "Test", "test"),))
    assert {name: (v.kind, v.defaults["test"]) for name, v in found.items()} == {
        "TURNOUT_TEST_PATH": ("text", "`/srv/x`"),
        "TURNOUT_TEST_HOSTS": ("list", "none, ask nobody"),
        "TURNOUT_TEST_SIZE": ("integer", "`8`"),
    }
    assert found["TURNOUT_TEST_HOSTS"].descriptions == {"test": "Hosts to ask."}
