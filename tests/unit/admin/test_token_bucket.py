"""The token bucket's arithmetic (the model the Redis script runs) and its header values."""

from __future__ import annotations

import math

from hypothesis import example, given
from hypothesis import strategies as st

from turnout.api.admin.token_bucket import State, decision, per_second, take

rates = st.integers(min_value=1, max_value=100_000)
gaps = st.lists(st.floats(min_value=0, max_value=120, allow_nan=False), max_size=300)


def run(per_minute: int, deltas: list[float], start: float = 1e9) -> tuple[int, State | None]:
    state, now, allowed = None, start, 0
    for delta in deltas:
        now += delta
        ok, state = take(state, now, per_minute, per_second(per_minute))
        allowed += ok
    return allowed, state


def test_a_new_bucket_is_full_and_empties_after_capacity_requests():
    allowed, state = run(5, [0.0] * 8)
    assert allowed == 5 and state is not None and state.tokens == 0


@given(rates, gaps)
def test_tokens_stay_between_zero_and_capacity(per_minute, deltas):
    state, now = None, 0.0
    for delta in deltas:
        now += delta
        _, state = take(state, now, per_minute, per_second(per_minute))
        assert 0 <= state.tokens <= per_minute


@given(rates, gaps)
def test_never_more_than_capacity_plus_the_refill(per_minute, deltas):
    allowed, _ = run(per_minute, deltas)
    elapsed = sum(deltas)
    assert allowed <= per_minute + math.floor(elapsed * per_second(per_minute) + 1e-6)


@given(st.integers(min_value=1, max_value=600), st.integers(min_value=1, max_value=50))
def test_a_client_at_the_refill_rate_is_never_refused(per_minute, requests):
    interval = 60.0 / per_minute
    allowed, _ = run(per_minute, [0.0] + [interval * 1.000001] * requests)
    assert allowed == requests + 1


@given(rates, st.floats(min_value=0, max_value=1e6, allow_nan=False))
def test_time_running_backwards_mints_nothing(per_minute, back):
    rate = per_second(per_minute)
    _, state = take(State(0.5, 1000.0), 1000.0 - back, per_minute, rate)
    assert state == State(0.5, 1000.0)


@given(rates, st.floats(min_value=0, max_value=1, exclude_max=True, allow_nan=False))
@example(1, 1 / 3)  # the quotient says 40.000000000000007 s; take finds a token at 40 s
def test_retry_after_is_when_a_token_is_back(per_minute, tokens):
    rate = per_second(per_minute)
    refused = decision(False, tokens, per_minute, rate)
    assert refused.retry_after_s >= 1 and refused.headers()["Retry-After"]
    # Waiting that long is enough; a second less (when > 1) is not.
    assert take(State(tokens, 0.0), refused.retry_after_s, per_minute, rate)[0]
    if refused.retry_after_s > 1:
        assert not take(State(tokens, 0.0), refused.retry_after_s - 1, per_minute, rate)[0]


def test_headers():
    ok = decision(True, 2.5, 10, per_second(10))
    assert ok.headers() == {"RateLimit-Limit": "10", "RateLimit-Remaining": "2",
                            "RateLimit-Reset": "45"}
    full = decision(True, 10.0, 10, per_second(10))
    assert full.reset_s == 0 and full.retry_after_s == 0
