"""Example graphs shipped with turnout: what `turnout dev` publishes by default."""

from pathlib import Path

DIRECTORY = Path(__file__).resolve().parent
GRAPH = DIRECTORY / "graph.yaml"
BROKEN_GRAPH = DIRECTORY / "broken-graph.yaml"
# EXAMPLE rates, not market data (rounded, of one day in early 2024), quoted per 1 EUR:
# `turnout dev` applies them to every day around today, so the example graph's USD offers
# show converted revenue in its EUR workspace. Import real rates for real money.
FX_RATES = DIRECTORY / "example-fx-rates.csv"
