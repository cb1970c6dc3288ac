"""The Dockerfile and docker-compose.yml cannot be built here (no Docker engine): these
checks keep what they name in step with the tree and the CLI."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

from turnout.cli.main import build_parser

ROOT = Path(__file__).resolve().parents[2]


def copied_sources() -> list[str]:
    sources = []
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        if line.startswith("COPY ") and "--from=" not in line:
            sources += line.split()[1:-1]
    return sources


def test_every_path_the_dockerfile_copies_exists() -> None:
    missing = [source for source in copied_sources() if not (ROOT / source).exists()]
    assert missing == []


def test_the_dockerfile_copies_every_installed_part() -> None:
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    folders = set(setuptools["package-dir"].values())
    assert folders - set(copied_sources()) == set()


def test_the_image_installs_the_lock_without_extras() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "requirements/base.txt" in dockerfile
    assert not re.search(r"turnout[^\s]*\[", dockerfile), "the image installs no extra"


def test_every_turnout_role_in_compose_is_a_valid_command() -> None:
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    roles = {name: spec["command"] for name, spec in services.items() if "build" in spec}
    assert set(roles) == {"migrate", "edge", "ingest", "api", "governor"}
    parser = build_parser()
    for name, command in roles.items():
        assert parser.parse_args(command).command == command[0], name
