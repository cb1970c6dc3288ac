"""The click handler keeps per-campaign facts for one graph version, never across a swap."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec

from tests.inprocess_edge import in_process_edge
from turnout.config.compile import compile_graph
from turnout.config.io import load_graph
from turnout.config.model import CostModel
from turnout.edge.redirect import ClickHandler
from turnout.edge.responses import NO_STORE, ZERO_LENGTH
from turnout.events import TOPIC_CLICKS

EXAMPLE = Path(__file__).resolve().parents[3] / "config" / "examples" / "graph.yaml"
IPHONE = (b"Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
          b"(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1")


def _click(code: str, query: bytes = b"zoneid=z1&bid=0.002") -> dict[str, Any]:
    return {"type": "http", "method": "GET", "path": f"/c/{code}",
            "raw_path": f"/c/{code}".encode(), "query_string": query,
            "client": ("127.0.0.1", 40000),
            "headers": [(b"x-forwarded-for", b"89.160.20.113"), (b"user-agent", IPHONE)]}


def _graph_with(version: int, **changes: Any) -> Any:
    graph = load_graph(EXAMPLE)
    campaigns = [msgspec.structs.replace(c, **changes) if c.code == "CAMP_A" else c
                 for c in graph.campaigns]
    return compile_graph(msgspec.structs.replace(graph, campaigns=campaigns), version)


async def test_a_new_graph_version_is_used_at_the_next_click():
    async with in_process_edge(_graph_with(1), b"unit-secret") as (app, sink):
        assert app.runtime is not None
        handler = ClickHandler(app.runtime)
        status, _, _ = handler.answer(_click("CAMP_A"), False)
        [first] = sink.of(TOPIC_CLICKS)
        assert (status, first.graph_version, first.cost_micros) == (302, 1, 2000)

        # Same campaign, other terms: the facts and event stubs of version 1 are dropped.
        app.runtime.holder.install(_graph_with(2, cost_model=CostModel(type="cpc", value="0.5")))
        handler.answer(_click("CAMP_A"), False)
        second = sink.of(TOPIC_CLICKS)[-1]
        assert (second.graph_version, second.cost_model, second.cost_micros) == (2, "cpc",
                                                                                 500_000)

        app.runtime.holder.install(_graph_with(3, code="CAMP_B"))
        status, headers, _ = handler.answer(_click("CAMP_A"), False)
        assert (status, headers[1:]) == (302, [(b"location", b"https://www.example.com/"),
                                               NO_STORE, ZERO_LENGTH])  # the fallback now
        assert len(sink.of(TOPIC_CLICKS)) == 2
        handler.answer(_click("CAMP_B"), False)
        assert sink.of(TOPIC_CLICKS)[-1].campaign_code == "CAMP_B"


async def test_unknown_codes_are_not_remembered():
    async with in_process_edge(_graph_with(1), b"unit-secret") as (app, _sink):
        assert app.runtime is not None
        handler = ClickHandler(app.runtime)
        for n in range(50):
            handler.answer(_click(f"NOPE{n}"), False)
        handler.answer(_click("CAMP_A"), False)
        assert [list(site.campaigns) for site in handler._states.values()] == [["CAMP_A"]]
