from __future__ import annotations

import random
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from turnout import clickid
from turnout.clickid import ClickIdError, ClickIds, decode, encode, normalize, timestamp_ms

TS = st.integers(min_value=0, max_value=(1 << 48) - 1)
BITS = st.integers(min_value=0, max_value=(1 << 80) - 1)
URL_SAFE = re.compile(r"^[0-7][0-9A-HJKMNP-TV-Z]{25}$")


@given(TS, BITS)
def test_encode_decode_round_trip(ts, bits):
    text = encode(ts, bits)
    assert URL_SAFE.match(text)
    assert decode(text) == (ts, bits)
    assert decode(text.lower()) == (ts, bits)


@given(TS, BITS, TS, BITS)
def test_text_order_is_time_order(ts_a, bits_a, ts_b, bits_b):
    a, b = encode(ts_a, bits_a), encode(ts_b, bits_b)
    assert (a < b) == ((ts_a, bits_a) < (ts_b, bits_b))


@given(st.lists(TS, min_size=1, max_size=50))
def test_generator_matches_encode_and_reads_back_its_timestamp(stamps):
    ids = ClickIds(seed=b"fixed")
    reference = random.Random(b"fixed").getrandbits  # the seeded stream: 80 bits per id
    for ts in stamps:
        text = ids.new(ts)
        assert text == encode(ts, reference(80))
        assert timestamp_ms(text) == ts


def test_unseeded_ids_come_from_the_os_csprng(monkeypatch):
    # No Mersenne Twister behind real ids: their random digits are os.urandom's bytes,
    # drawn for a batch of ids at once, 10 bytes (80 bits) an id.
    drawn = []

    def urandom(size):
        drawn.append(size)
        return bytes((len(drawn) * 31 + i * 7) % 256 for i in range(size))

    monkeypatch.setattr(clickid.os, "urandom", urandom)
    ids = ClickIds()
    made = [ids.new(1_790_000_000_000) for _ in range(clickid._BATCH + 1)]
    assert drawn == [clickid._BATCH * 10, clickid._BATCH * 10]
    first_batch = bytes((31 + i * 7) % 256 for i in range(clickid._BATCH * 10))
    assert made[0] == encode(1_790_000_000_000, int.from_bytes(first_batch[:10], "big"))
    assert made[1] == encode(1_790_000_000_000, int.from_bytes(first_batch[10:20], "big"))
    second_batch = bytes((62 + i * 7) % 256 for i in range(10))
    assert made[-1] == encode(1_790_000_000_000, int.from_bytes(second_batch, "big"))


def test_generator_uses_the_clock_when_no_time_is_given():
    ids = ClickIds(clock=lambda: 1_790_000_000_123_456_789)
    assert timestamp_ms(ids.new()) == 1_790_000_000_123


def test_ids_from_one_millisecond_differ():
    ids = ClickIds()
    assert len({ids.new(1_790_000_000_000) for _ in range(10_000)}) == 10_000


@pytest.mark.parametrize(
    "text",
    [
        "",
        "0" * 25,
        "0" * 27,
        "8" + "0" * 25,  # more than 128 bits
        "0" * 25 + "U",  # not in Crockford's alphabet
        "0" * 25 + "I",
        "0" * 24 + "-_",
        "0" * 25 + "\u0660",  # a non-ASCII digit int() would accept
    ],
)
def test_malformed_ids_are_refused(text):
    with pytest.raises(ClickIdError):
        decode(text)


def test_normalize_returns_the_upper_case_form():
    text = encode(1_790_000_000_000, 12345)
    assert normalize(text.lower()) == text


def test_out_of_range_timestamps_are_refused():
    with pytest.raises(ClickIdError):
        encode(1 << 48, 0)
    with pytest.raises(ClickIdError):
        encode(-1, 0)


@given(st.text(max_size=40))
def test_decode_never_raises_anything_but_click_id_error(text):
    try:
        ts, bits = clickid.decode(text)
    except ClickIdError:
        return
    assert 0 <= ts < 1 << 48 and 0 <= bits < 1 << 80


@settings(max_examples=30, deadline=None)
@given(st.binary(min_size=1, max_size=32), st.lists(TS, min_size=1, max_size=4))
def test_batches_of_ids_equal_encoding_each_draw(seed, stamps):
    # Past two batches: the digits of a batch are encoded together, in draw order.
    ids = ClickIds(seed=seed)
    reference = random.Random(seed)
    for n in range(2 * clickid._BATCH + 7):
        ts = stamps[n % len(stamps)]
        assert ids.new(ts) == encode(ts, reference.getrandbits(80))


def test_extreme_draws_encode_like_encode():
    draws = [0, (1 << 80) - 1, 0x5555555555555555AAAA, 1, 1 << 79, 31 << 75, 31]
    draws *= clickid._BATCH // len(draws) + 1
    ids = ClickIds(seed=b"unused")
    ids._random_bytes = lambda size: b"".join(
        value.to_bytes(10, "big") for value in draws[: size // 10])
    for value in draws[: clickid._BATCH]:
        assert ids.new(1_790_000_000_000) == encode(1_790_000_000_000, value)
