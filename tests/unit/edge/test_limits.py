"""One attribution limit: validation, the edge's setting and its postback check agree
(issue #10, finding 13)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import msgspec
import pytest

from turnout.clickid import ClickIds
from turnout.config.io import graph_from_builtins, load_graph
from turnout.config.validate import validate
from turnout.edge import postback
from turnout.edge.errors import BadInput
from turnout.edge.settings import EdgeSettings
from turnout.env import SettingError
from turnout.limits import DAY_MS, MAX_ATTRIBUTION_DAYS, MAX_ATTRIBUTION_MS

EXAMPLE = Path(__file__).parents[3] / "config" / "examples" / "graph.yaml"
BASE: dict[str, Any] = msgspec.json.decode(msgspec.json.encode(load_graph(EXAMPLE)))
NOW = 1_800_000_000_000
MINUTE = 60_000
ids = ClickIds()


def _window_problems(days: int) -> list[str]:
    data = copy.deepcopy(BASE)
    data["campaigns"][0]["attribution_window_days"] = days
    return [str(p) for p in validate(graph_from_builtins(data))]


def _age_accepted(age_ms: int, max_age_ms: int) -> bool:
    params = {"clickid": ids.new(NOW - age_ms)}
    try:
        postback.click_id_of(params, NOW, max_age_ms, 300_000)
    except BadInput as exc:
        assert exc.status == 410
        return False
    return True


def test_validation_allows_windows_up_to_the_limit_and_no_further() -> None:
    assert _window_problems(MAX_ATTRIBUTION_DAYS) == []
    assert _window_problems(MAX_ATTRIBUTION_DAYS + 1) == [
        f"campaigns[0].attribution_window_days: must be between 1 and {MAX_ATTRIBUTION_DAYS}, "
        f"got {MAX_ATTRIBUTION_DAYS + 1}"
    ]


def test_the_edge_accepts_every_click_a_valid_window_can_hold() -> None:
    settings = EdgeSettings.from_env({"TURNOUT_EDGE_SECRET": "k"})
    assert settings.max_attribution_ms == MAX_ATTRIBUTION_MS == EdgeSettings().max_attribution_ms
    longest = MAX_ATTRIBUTION_DAYS * DAY_MS  # the longest window validation lets through
    assert _age_accepted(longest - MINUTE, settings.max_attribution_ms)
    assert not _age_accepted(longest + MINUTE, settings.max_attribution_ms)


def test_the_edge_setting_may_lower_the_limit_but_not_raise_it() -> None:
    lowered = EdgeSettings.from_env({"TURNOUT_EDGE_SECRET": "k",
                                     "TURNOUT_EDGE_MAX_ATTRIBUTION_DAYS": "30"})
    assert lowered.max_attribution_ms == 30 * DAY_MS
    for days in (str(MAX_ATTRIBUTION_DAYS + 1), "365", "0", "-1"):
        with pytest.raises(SettingError, match="EDGE_MAX_ATTRIBUTION_DAYS"):
            EdgeSettings.from_env({"TURNOUT_EDGE_SECRET": "k",
                                   "TURNOUT_EDGE_MAX_ATTRIBUTION_DAYS": days})
