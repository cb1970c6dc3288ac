"""Example graphs shipped with turnout: what `turnout dev` publishes by default."""

from pathlib import Path

DIRECTORY = Path(__file__).resolve().parent
GRAPH = DIRECTORY / "graph.yaml"
BROKEN_GRAPH = DIRECTORY / "broken-graph.yaml"
