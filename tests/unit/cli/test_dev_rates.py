"""`turnout dev`'s example rates: a valid file, spread over the days around today."""

from __future__ import annotations

import datetime as dt

from turnout.config import examples
from turnout.config.fx_rates import parse_csv
from turnout.config.io import load_graph
from turnout.local.dev_setup import around_today


def test_example_rates_cover_the_example_graphs_currencies_around_today():
    today = dt.date(2025, 6, 15)
    spread = parse_csv(around_today(examples.FX_RATES.read_text(), today, days=2))
    assert spread.days == tuple(today + dt.timedelta(days=d) for d in range(-2, 3))
    graph = load_graph(examples.GRAPH)
    paid = {o.currency for o in graph.offers if o.currency} - {w.currency for w in
                                                               graph.workspaces}
    assert paid and paid <= {r.currency for r in spread.rates if r.day == today}
