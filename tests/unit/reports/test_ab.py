from __future__ import annotations

import pytest

from turnout.reports.ab import Arm, choose_control, compare_arms
from turnout.reports.errors import ParameterError

ARMS = [Arm("a", 1000, 20), Arm("b", 1200, 60), Arm("c", 50, 10)]


def test_control_choice():
    assert choose_control(ARMS, "first", ("c", "a")).destination == "c"
    assert choose_control(ARMS, "first").destination == "b"  # unknown order: largest
    assert choose_control(ARMS, "best").destination == "b"  # c is too small to count
    assert choose_control(ARMS, "a").destination == "a"
    with pytest.raises(ParameterError):
        choose_control(ARMS, "zzz")
    with pytest.raises(ParameterError):
        choose_control([], "first")


def test_compare_arms():
    body = compare_arms(ARMS, control="a")
    arms = {arm["destination"]: arm for arm in body["arms"]}
    assert body["arms"][0]["destination"] == "a" and arms["a"]["role"] == "control"
    assert arms["b"]["status"] == "ok" and arms["b"]["significant"] is True
    assert arms["b"]["lift"] == pytest.approx(150.0)
    assert arms["b"]["ci_low"] < arms["b"]["difference"] < arms["b"]["ci_high"]
    assert arms["c"]["status"] == "insufficient_data" and "p_value" not in arms["c"]
    weak = compare_arms([Arm("a", 1000, 2), Arm("b", 1000, 9)], control="a")
    # the control itself is short of conversions, so no variant can be judged against it
    assert [a["status"] for a in weak["arms"]] == ["insufficient_data"] * 2
    with pytest.raises(ParameterError):
        compare_arms(ARMS, confidence=1.5)
