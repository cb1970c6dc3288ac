from __future__ import annotations

from pathlib import Path

import pytest

from turnout.config.compile import compile_graph
from turnout.config.compiled import CompiledGraph
from turnout.config.io import load_graph

EXAMPLE = Path(__file__).resolve().parents[3] / "config" / "examples" / "graph.yaml"


@pytest.fixture(scope="session")
def graph() -> CompiledGraph:
    return compile_graph(load_graph(EXAMPLE), 3)
