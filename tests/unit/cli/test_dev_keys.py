from __future__ import annotations

from pathlib import Path

import yaml

from turnout.api.keys import KeyRing, key_line, new_token, parse_keys
from turnout.cli.dev import graph_keys
from turnout.config import examples


def two_workspace_graph(tmp_path: Path) -> Path:
    graph = yaml.safe_load(examples.GRAPH.read_text())
    graph["workspaces"].append(
        {"id": "beta", "name": "Beta", "timezone": "UTC", "currency": "USD"})
    path = tmp_path / "graph.yaml"
    path.write_text(yaml.safe_dump(graph))
    return path


def test_every_workspace_of_the_given_graph_gets_a_key_that_opens_it(tmp_path: Path) -> None:
    tokens, keys = graph_keys(two_workspace_graph(tmp_path), None)
    assert sorted(tokens) == ["acme", "beta"]
    ring = KeyRing(parse_keys(keys))
    assert {workspace: ring.workspace_for(token) for workspace, token in tokens.items()} == {
        "acme": "acme", "beta": "beta"}


def test_keys_already_configured_are_kept(tmp_path: Path) -> None:
    old_acme, old_other = new_token(), new_token()
    configured = f"{key_line('acme', old_acme)}, {key_line('other', old_other)}\n"
    tokens, keys = graph_keys(examples.GRAPH, configured)
    ring = KeyRing(parse_keys(keys))
    assert ring.workspace_for(old_acme) == "acme"
    assert ring.workspace_for(old_other) == "other"
    assert ring.workspace_for(tokens["acme"]) == "acme"
    assert tokens["acme"] not in (old_acme, old_other)


def test_an_empty_configuration_adds_nothing_but_the_new_keys(tmp_path: Path) -> None:
    tokens, keys = graph_keys(examples.GRAPH, "  \n")
    assert len(parse_keys(keys)) == len(tokens) == 1


def test_keys_from_a_keys_file_travel_on_with_the_new_ones(tmp_path: Path, monkeypatch) -> None:
    from turnout.cli.dev import _dev_environ
    from turnout.local.services import LocalStack, Service, ping_redis

    old = new_token()
    keys_file = tmp_path / "keys"
    keys_file.write_text(key_line("acme", old) + "\n")
    monkeypatch.setenv("TURNOUT_API_KEYS_FILE", str(keys_file))
    monkeypatch.setenv("TURNOUT_API_KEYS", "ignored:" + "0" * 64)
    idle = Service("idle", 1, [], ping_redis, tmp_path)
    tokens, env = _dev_environ(LocalStack(tmp_path, idle, idle, idle), examples.GRAPH)
    assert "TURNOUT_API_KEYS_FILE" not in env
    ring = KeyRing(parse_keys(env["TURNOUT_API_KEYS"]))
    assert ring.workspace_for(old) == "acme" and ring.workspace_for(tokens["acme"]) == "acme"
