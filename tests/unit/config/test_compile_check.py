"""check_compiles: the forked half reports back, failures from either half surface."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from benchmarks.big_graph import generate
from turnout.config import compile_check
from turnout.config.errors import ConfigError
from turnout.config.manifest import Changes, changes_between, manifest_of

GRAPH = generate(40, seed=5, workspaces=2)
EVERYTHING = changes_between(None, manifest_of(GRAPH)[0])


@pytest.fixture(autouse=True)
def small_parallel(monkeypatch):
    monkeypatch.setattr(compile_check, "PARALLEL_FROM", 10)
    monkeypatch.setattr(compile_check, "spare_core", lambda: True)  # however busy CI is


def breaking(monkeypatch, bad_id: str) -> None:
    real = compile_check.compile_version

    def compile_version(shared, version, campaigns, order):
        if any(c.id == bad_id for c in campaigns):
            raise ValueError(f"cannot compile {bad_id}")
        return real(shared, version, campaigns, order)

    monkeypatch.setattr(compile_check, "compile_version", compile_version)


def children() -> set[int]:
    """This process's children, zombies included (an unreaped child stays listed)."""
    path = Path(f"/proc/{os.getpid()}/task/{os.getpid()}/children")
    return {int(p) for p in path.read_text().split()}


def test_both_halves_compile():
    before = children()
    compile_check.check_compiles(GRAPH, EVERYTHING)
    assert children() == before  # the child was reaped


@pytest.mark.parametrize("parallel", [True, False])
def test_a_campaign_in_the_forked_half_that_fails_is_reported(monkeypatch, parallel):
    breaking(monkeypatch, GRAPH.campaigns[-1].id)
    with pytest.raises((ConfigError, ValueError), match=f"cannot compile {GRAPH.campaigns[-1].id}"):
        compile_check.check_compiles(GRAPH, EVERYTHING, parallel=parallel)


def test_a_failure_in_this_half_still_reaps_the_child(monkeypatch):
    before = children()
    breaking(monkeypatch, GRAPH.campaigns[0].id)
    with pytest.raises(ValueError, match="cannot compile"):
        compile_check.check_compiles(GRAPH, EVERYTHING)
    assert children() == before


def test_only_changed_campaigns_are_compiled_when_nothing_shared_changed(monkeypatch):
    compiled: list[str] = []
    real = compile_check.compile_version

    def compile_version(shared, version, campaigns, order):
        compiled.extend(c.id for c in campaigns)
        return real(shared, version, campaigns, order)

    monkeypatch.setattr(compile_check, "compile_version", compile_version)
    only = Changes(upserted={"campaigns": (GRAPH.campaigns[3].id,)})
    compile_check.check_compiles(GRAPH, only)
    assert compiled == [GRAPH.campaigns[3].id]


@pytest.mark.parametrize(("cores", "load", "spare"), [
    ({0, 1}, 0.9, True),  # this process alone
    ({0, 1}, 1.6, False),  # and someone else
    ({0}, 0.0, False),
    ({0, 1, 2, 3}, 3.2, True),
])
def test_a_half_is_forked_only_onto_a_spare_core(monkeypatch, cores, load, spare):
    monkeypatch.undo()
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: cores)
    monkeypatch.setattr(os, "getloadavg", lambda: (load, 0.0, 0.0))
    assert compile_check.spare_core() is spare
