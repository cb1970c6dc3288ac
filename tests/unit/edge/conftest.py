from __future__ import annotations

from pathlib import Path

import pytest

from turnout.config.compile import compile_graph
from turnout.config.compiled import CompiledGraph
from turnout.config.io import load_graph
from turnout.edge.graph import Snapshot, snapshot_of

EXAMPLE = Path(__file__).resolve().parents[3] / "config" / "examples" / "graph.yaml"


@pytest.fixture(scope="session")
def compiled() -> CompiledGraph:
    return compile_graph(load_graph(EXAMPLE), 5)


@pytest.fixture(scope="session")
def snapshot(compiled: CompiledGraph) -> Snapshot:
    return snapshot_of(compiled)
