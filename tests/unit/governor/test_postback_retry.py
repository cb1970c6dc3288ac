"""Which answers are retried, and when: exponential backoff with jitter, capped, bounded by
attempts and a window."""

from __future__ import annotations

import random

import pytest

from turnout.governor.postback_retry import DELIVERED, FAILED, RETRY, after, backoff_ms, verdict
from turnout.governor.postback_settings import PostbackSettings

SETTINGS = PostbackSettings(attempts=5, window_s=3_600, backoff_base_s=10, backoff_cap_s=60)


@pytest.mark.parametrize(("status", "expected"), [
    (200, DELIVERED), (204, DELIVERED), (302, DELIVERED), (None, RETRY), (500, RETRY),
    (503, RETRY), (408, RETRY), (429, RETRY), (400, FAILED), (404, FAILED), (410, FAILED)])
def test_verdict(status: int | None, expected: str) -> None:
    assert verdict(status) == expected


class Fixed(random.Random):
    def __init__(self, value: float) -> None:
        super().__init__()
        self.value = value

    def random(self) -> float:
        return self.value


def test_backoff_doubles_up_to_the_cap_and_jitter_takes_up_to_half() -> None:
    no_jitter, most = Fixed(0.0), Fixed(0.999999)
    assert [backoff_ms(n, SETTINGS, no_jitter) for n in range(1, 6)] == [
        10_000, 20_000, 40_000, 60_000, 60_000]
    assert [backoff_ms(n, SETTINGS, most) for n in range(1, 4)] == [5_000, 10_000, 20_000]
    rng = random.Random(7)
    for n in range(1, 8):
        full = min(60_000, 10_000 * 2 ** (n - 1))
        assert full // 2 <= backoff_ms(n, SETTINGS, rng) <= full


def test_after_an_answer() -> None:
    rng = Fixed(0.0)
    kwargs = {"created_ms": 1_000, "settings": SETTINGS, "rng": rng}
    assert after(1, DELIVERED, now_ms=2_000, **kwargs).state == DELIVERED
    step = after(1, RETRY, now_ms=2_000, **kwargs)
    assert (step.state, step.next_at_ms, step.outcome) == ("pending", 12_000, RETRY)
    assert after(1, FAILED, now_ms=2_000, **kwargs).state == FAILED  # a 4xx: never again
    out_of_attempts = after(5, RETRY, now_ms=2_000, **kwargs)
    assert (out_of_attempts.state, out_of_attempts.outcome) == (FAILED, FAILED)
    # The next attempt would come after the window: given up now.
    late = after(2, RETRY, now_ms=1_000 + 3_600_000 - 10_000, **kwargs)
    assert late.state == FAILED
