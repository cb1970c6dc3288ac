from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
import uvicorn

from turnout.edge.protocol import UVICORN_HOOKS
from turnout.edge.uvicorn_hooks import TESTED_UVICORN, missing, require

ROOT = Path(__file__).resolve().parents[3]


class Base:
    def on_response_complete(self) -> None:
        self.flow = None


class Fake(Base):
    timeout_keep_alive = 5

    def __init__(self) -> None:
        self.transport = None

    def shutdown(self) -> None:
        def later() -> None:
            self.pipeline = []

        later()


def test_missing_hooks_of_a_fake_class_are_named():
    methods = ("on_response_complete", "shutdown", "_start_asgi_task", "timeout_keep_alive")
    attributes = ("flow", "transport", "pipeline", "timeout_keep_alive", "cycle")
    assert missing(Fake, methods, attributes) == [
        "Fake._start_asgi_task()", "Fake.timeout_keep_alive()", "Fake.cycle"]


def test_the_import_error_names_each_missing_hook_and_the_tested_range():
    with pytest.raises(ImportError) as caught:
        require([(Fake, ("_unset_keepalive_if_required",), ("cycle",)), (Base, (), ("scope",))])
    message = str(caught.value)
    for name in ("Fake._unset_keepalive_if_required()", "Fake.cycle", "Base.scope",
                 f"uvicorn {uvicorn.__version__}", f"uvicorn{TESTED_UVICORN}"):
        assert name in message


def test_the_installed_uvicorn_has_every_hook():
    assert [name for owner, methods, attributes in UVICORN_HOOKS
            for name in missing(owner, methods, attributes)] == []


def test_the_tested_range_is_pyprojects_pin():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert f"uvicorn{TESTED_UVICORN}" in pyproject["project"]["dependencies"]
