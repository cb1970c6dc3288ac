from __future__ import annotations

from turnout.reports.dimensions import DIMENSIONS
from turnout.reports.docs import DOC, EXAMPLES, render_examples
from turnout.reports.metrics import METRICS


def test_doc_examples_are_the_builders_output():
    # Regenerate with `python -m turnout.reports.docs --write` after changing the builder.
    assert render_examples() in DOC.read_text()
    assert len(EXAMPLES) == 5


def test_doc_names_every_metric_and_dimension():
    text = DOC.read_text()
    for name in (*METRICS, *DIMENSIONS):
        if not name.startswith("sub") or name == "sub1":
            assert f"`{name}`" in text, name
