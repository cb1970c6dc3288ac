"""Two-proportion z-test for A/B arms: pure arithmetic, standard library only.

The test statistic uses the pooled proportion (the null hypothesis says both arms convert
alike); the confidence interval of the difference uses the unpooled standard error (it
describes the difference we observed). p-values are two-sided.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist
from typing import Final

MIN_CLICKS: Final = 100
MIN_CONVERSIONS: Final = 5
_NORMAL: Final = NormalDist()


@dataclass(frozen=True, slots=True)
class Comparison:
    rate_control: float
    rate_variant: float
    difference: float  # variant - control, as a proportion
    lift: float | None  # difference / control rate; None when the control never converts
    z: float | None
    p_value: float | None
    ci_low: float
    ci_high: float
    significant: bool


def sufficient(clicks: int, conversions: int, min_clicks: int = MIN_CLICKS,
               min_conversions: int = MIN_CONVERSIONS) -> bool:
    return clicks >= min_clicks and conversions >= min_conversions


def p_value(z: float) -> float:
    """Two-sided p-value of a standard normal statistic."""
    return math.erfc(abs(z) / math.sqrt(2.0))


def z_critical(confidence: float) -> float:
    if not 0.0 < confidence < 1.0:
        raise ValueError("confidence must be between 0 and 1")
    return _NORMAL.inv_cdf(0.5 + confidence / 2.0)


def compare(control_clicks: int, control_conversions: int, variant_clicks: int,
            variant_conversions: int, confidence: float = 0.95) -> Comparison:
    """Compare conversion rates conversions/clicks of a variant against a control."""
    if control_clicks <= 0 or variant_clicks <= 0:
        raise ValueError("both arms need clicks")
    if not (0 <= control_conversions <= control_clicks
            and 0 <= variant_conversions <= variant_clicks):
        raise ValueError("conversions must be between 0 and clicks")
    p1 = control_conversions / control_clicks
    p2 = variant_conversions / variant_clicks
    diff = p2 - p1
    pooled = (control_conversions + variant_conversions) / (control_clicks + variant_clicks)
    se_pooled = math.sqrt(pooled * (1 - pooled) * (1 / control_clicks + 1 / variant_clicks))
    z = diff / se_pooled if se_pooled > 0 else None
    p = p_value(z) if z is not None else None
    se = math.sqrt(p1 * (1 - p1) / control_clicks + p2 * (1 - p2) / variant_clicks)
    margin = z_critical(confidence) * se
    return Comparison(
        rate_control=p1,
        rate_variant=p2,
        difference=diff,
        lift=diff / p1 if p1 > 0 else None,
        z=z,
        p_value=p,
        ci_low=diff - margin,
        ci_high=diff + margin,
        significant=p is not None and p < 1 - confidence,
    )
