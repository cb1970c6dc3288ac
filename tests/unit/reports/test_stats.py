from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats as scipy_stats

from turnout.reports.stats import compare, p_value, sufficient, z_critical


def _reference(n1, x1, n2, x2, confidence):
    p1, p2 = x1 / n1, x2 / n2
    pooled = (x1 + x2) / (n1 + n2)
    z = (p2 - p1) / math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    se = math.sqrt(p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2)
    q = scipy_stats.norm.ppf(0.5 + confidence / 2)
    return z, 2 * scipy_stats.norm.sf(abs(z)), (p2 - p1 - q * se, p2 - p1 + q * se)


def test_known_values():
    # 500 clicks each, 25 vs 40 conversions: z = 1.92411, p = 0.054341 (two-sided).
    result = compare(500, 25, 500, 40)
    assert result.z == pytest.approx(1.924105, abs=1e-6)
    assert result.p_value == pytest.approx(0.0543414, abs=1e-7)
    assert result.lift == pytest.approx(0.6)
    assert not result.significant
    assert z_critical(0.95) == pytest.approx(1.959964, abs=1e-6)
    assert p_value(1.959964) == pytest.approx(0.05, abs=1e-6)


@given(n1=st.integers(1, 100_000), n2=st.integers(1, 100_000), data=st.data(),
       confidence=st.sampled_from([0.8, 0.9, 0.95, 0.99]))
def test_matches_scipy(n1, n2, data, confidence):
    x1 = data.draw(st.integers(0, n1))
    x2 = data.draw(st.integers(0, n2))
    result = compare(n1, x1, n2, x2, confidence)
    pooled = (x1 + x2) / (n1 + n2)
    if pooled in (0, 1):
        assert result.z is None and result.p_value is None and not result.significant
        return
    z, p, (low, high) = _reference(n1, x1, n2, x2, confidence)
    assert result.z == pytest.approx(z, rel=1e-9, abs=1e-12)
    assert result.p_value == pytest.approx(p, rel=1e-6, abs=1e-12)
    assert result.ci_low == pytest.approx(low, abs=1e-9)
    assert result.ci_high == pytest.approx(high, abs=1e-9)


def test_guards():
    assert not sufficient(99, 10) and not sufficient(1000, 4) and sufficient(100, 5)
    with pytest.raises(ValueError):
        compare(0, 0, 10, 1)
    with pytest.raises(ValueError):
        compare(10, 11, 10, 1)
    with pytest.raises(ValueError):
        z_critical(1.0)
