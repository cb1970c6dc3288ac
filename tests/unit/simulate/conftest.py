from __future__ import annotations

from pathlib import Path

import pytest

from config.compile import compile_graph
from config.compiled import CompiledGraph
from config.io import load_graph

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "graph.yaml"


@pytest.fixture(scope="session")
def graph() -> CompiledGraph:
    return compile_graph(load_graph(EXAMPLE), 3)
