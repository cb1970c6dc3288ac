"""A/B comparison of the destinations of one rule: each arm against a control arm."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from turnout.reports import stats
from turnout.reports.errors import ParameterError

CONTROLS = ("first", "best", "largest")


@dataclass(frozen=True, slots=True)
class Arm:
    destination: str
    clicks: int
    conversions: int


def _rate(arm: Arm) -> float:
    return arm.conversions / arm.clicks if arm.clicks else 0.0


def choose_control(arms: Sequence[Arm], control: str, order: Sequence[str] = ()) -> Arm:
    """`first`: the rule's first destination in the graph (largest arm when unknown);
    `best`: the highest rate among arms with enough data; `largest`: the most clicks;
    anything else is a destination id."""
    if not arms:
        raise ParameterError("no clicks for this rule in the range")
    by_id = {arm.destination: arm for arm in arms}
    largest = max(arms, key=lambda a: (a.clicks, a.destination))
    if control == "first":
        return next((by_id[d] for d in order if d in by_id), largest)
    if control == "largest":
        return largest
    if control == "best":
        ready = [a for a in arms if stats.sufficient(a.clicks, a.conversions)]
        return max(ready, key=lambda a: (_rate(a), a.clicks)) if ready else largest
    if control not in by_id:
        raise ParameterError(f"control: {control!r} is not a destination with clicks")
    return by_id[control]


def _number(value: float | None, places: int = 6) -> float | None:
    return None if value is None else round(value, places)


def compare_arms(arms: Sequence[Arm], control: str = "first", confidence: float = 0.95,
                 order: Sequence[str] = (), min_clicks: int = stats.MIN_CLICKS,
                 min_conversions: int = stats.MIN_CONVERSIONS) -> dict[str, Any]:
    """Rates, lifts and CIs are in percent (CI: percentage points of the difference)."""
    if not 0.5 <= confidence < 1.0:
        raise ParameterError("confidence: must be in [0.5, 1)")
    base = choose_control(arms, control, order)
    base_ready = stats.sufficient(base.clicks, base.conversions, min_clicks, min_conversions)
    out = []
    for arm in sorted(arms, key=lambda a: (a is not base, -a.clicks, a.destination)):
        row: dict[str, Any] = {
            "destination": arm.destination, "clicks": arm.clicks,
            "conversions": arm.conversions, "cr": _number(_rate(arm) * 100),
            "role": "control" if arm is base else "variant",
        }
        ready = stats.sufficient(arm.clicks, arm.conversions, min_clicks, min_conversions)
        if arm is base:
            row["status"] = "ok" if ready else "insufficient_data"
        elif not (ready and base_ready):
            row["status"] = "insufficient_data"
        else:
            c = stats.compare(base.clicks, base.conversions, arm.clicks, arm.conversions,
                              confidence)
            row.update(status="ok", lift=_number(None if c.lift is None else c.lift * 100),
                       difference=_number(c.difference * 100), z=_number(c.z),
                       p_value=_number(c.p_value, 8), ci_low=_number(c.ci_low * 100),
                       ci_high=_number(c.ci_high * 100), significant=c.significant)
        out.append(row)
    return {"control": base.destination, "confidence": confidence, "min_clicks": min_clicks,
            "min_conversions": min_conversions, "arms": out}
