from __future__ import annotations

import argparse
import re
import shlex
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from turnout import __version__, errors
from turnout.cli.main import EXIT_CODES, build_parser, main
from turnout.cli.parser import join_dash_values
from turnout.errors import EXIT_BAD_INPUT, EXIT_OK, EXIT_UNAVAILABLE, EXIT_USAGE
from turnout.local.services import free_port

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = ROOT / "config" / "examples"
CLI_DOC = ROOT / "docs" / "cli.md"


def commands(parser: argparse.ArgumentParser, path: str = "turnout"):
    """(command path, its parser, its help) for every subcommand, depth first."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {choice.dest: choice.help for choice in action._choices_actions}
            for name, sub in action.choices.items():
                yield f"{path} {name}", sub, helps.get(name)
                yield from commands(sub, f"{path} {name}")


def test_version(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    assert stop.value.code == EXIT_OK
    assert capsys.readouterr().out.strip() == f"turnout {__version__}"


def test_every_command_and_every_argument_says_what_it_does():
    parser = build_parser()
    missing = [f"turnout {'/'.join(a.option_strings)}" for a in parser._actions
               if not a.help and not isinstance(a, argparse._SubParsersAction)]
    for path, sub, help_text in commands(parser):
        if not help_text:
            missing.append(path)
        for action in sub._actions:
            if isinstance(action, argparse._SubParsersAction):
                continue
            if not action.help or action.help == argparse.SUPPRESS:
                missing.append(f"{path} {'/'.join(action.option_strings) or action.dest}")
    assert missing == []


def test_the_walk_sees_every_command():
    paths = {path for path, _, _ in commands(build_parser())}
    assert {"turnout report", "turnout graph validate", "turnout dev"} <= paths
    assert len(paths) == 35


def test_cli_doc_lists_every_command():
    text = CLI_DOC.read_text()
    for path, sub, _ in commands(build_parser()):
        if not any(isinstance(a, argparse._SubParsersAction) for a in sub._actions):
            assert f"`{path}`" in text, path


def test_cli_doc_exit_codes_are_the_constants():
    rows = re.findall(r"^\| (\d) \| `(EXIT_[A-Z_]+)` \|", CLI_DOC.read_text(), re.M)
    constants = {name: value for name, value in vars(errors).items() if name.startswith("EXIT_")}
    assert {name: int(code) for code, name in rows} == constants
    assert sorted(code for code, _ in EXIT_CODES) == sorted(constants.values())
    assert len(set(constants.values())) == len(constants)


@pytest.mark.parametrize(("argv", "joined"), [
    (["--sort", "-profit"], ["--sort=-profit"]),
    (["--sort", "-roi,country", "--limit", "5"], ["--sort=-roi,country", "--limit", "5"]),
    (["--sort", "roi"], ["--sort", "roi"]),
    (["--sort", "--limit", "5"], ["--sort", "--limit", "5"]),  # still a missing value
    (["--sort", "-h"], ["--sort", "-h"]),
    (["--sort"], ["--sort"]),
    (["--", "--sort", "-x"], ["--", "--sort", "-x"]),
    (["--filter", "-x"], ["--filter", "-x"]),
])
def test_join_dash_values(argv, joined):
    assert join_dash_values(argv, ("--sort",)) == joined


def test_report_sort_descending_as_the_docs_write_it():
    lines = re.findall(r"`(turnout report [^`]+)`", (ROOT / "docs" / "analytics.md").read_text())
    sorted_lines = [line for line in lines if " --sort -" in line]
    assert len(sorted_lines) >= 3
    for line in sorted_lines:
        args = build_parser().parse_args(shlex.split(line)[1:])
        assert args.sort.startswith("-"), line


def test_report_sort_descending_reaches_the_query(capsys):
    argv = ["report", "--workspace", "acme", "--tz", "UTC", "--currency", "EUR", "--group-by",
            "country", "--sql"]
    assert main([*argv, "--sort", "-profit"]) == EXIT_OK
    assert re.search(r"ORDER BY\s+profit DESC", capsys.readouterr().out)


def test_report_without_a_value_for_sort_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["report", "--workspace", "acme", "--sort", "--sql"])
    assert stop.value.code == EXIT_USAGE


def test_graph_validate_of_an_invalid_graph_is_bad_input(capsys):
    assert main(["graph", "validate", str(EXAMPLES / "broken-graph.yaml")]) == EXIT_BAD_INPUT
    assert "5 problem(s)" in capsys.readouterr().out


def test_report_with_a_bad_parameter_is_bad_input(capsys):
    argv = ["report", "--workspace", "acme", "--tz", "UTC", "--sql", "--sort", "-nope"]
    assert main(argv) == EXIT_BAD_INPUT
    assert "nope" in capsys.readouterr().err


def test_report_against_an_unreachable_api_is_unavailable(capsys):
    api = f"http://127.0.0.1:{free_port()}"
    assert main(["report", "--workspace", "acme", "--api", api, "--key", "k"]) == EXIT_UNAVAILABLE
    assert api in capsys.readouterr().err


class _Refusing(BaseHTTPRequestHandler):
    status = 401

    def do_GET(self):
        body = b'{"error": "unknown API key"}'
        self.send_response(self.status)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.mark.parametrize(("status", "code"), [(401, EXIT_BAD_INPUT), (400, EXIT_BAD_INPUT),
                                              (503, EXIT_UNAVAILABLE)])
def test_report_api_answers_map_to_codes(status, code, capsys):
    handler = type("Handler", (_Refusing,), {"status": status})
    server = HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        api = f"http://127.0.0.1:{server.server_port}"
        assert main(["report", "--workspace", "acme", "--api", api, "--key", "k"]) == code
        assert "unknown API key" in capsys.readouterr().err
    finally:
        server.shutdown()
        server.server_close()


def test_report_reads_the_api_from_the_environment(monkeypatch):
    monkeypatch.setenv("TURNOUT_API_URL", "http://api.example:8081")
    monkeypatch.setenv("TURNOUT_API_KEY", "secret-token")
    args = build_parser().parse_args(["report", "--workspace", "acme"])
    assert (args.api, args.key) == ("http://api.example:8081", "secret-token")
    monkeypatch.setenv("TURNOUT_API_URL", "")
    assert build_parser().parse_args(["report", "--workspace", "acme"]).api is None


def test_a_setting_that_cannot_be_used_is_bad_input(monkeypatch, capsys):
    monkeypatch.setenv("TURNOUT_API_PORT", "eighty")
    assert main(["api"]) == EXIT_BAD_INPUT
    assert "TURNOUT_API_PORT" in capsys.readouterr().err
