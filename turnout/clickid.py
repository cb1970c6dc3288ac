"""Click ids: 128 bits, 48-bit millisecond timestamp then 80 random bits.

The text form is 26 characters of Crockford base32 (ULID layout, upper case, URL safe).
The alphabet is in ASCII order, so sorting ids as text sorts them by time, and the
postback path can read the timestamp back without any lookup.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable

from turnout.errors import TurnoutError

LENGTH = 26
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_PYTHON32 = "0123456789abcdefghijklmnopqrstuv"
_FROM_CROCKFORD = str.maketrans(_CROCKFORD + _CROCKFORD.lower(), _PYTHON32 + _PYTHON32)
_VALID = frozenset(_CROCKFORD + _CROCKFORD.lower())
# Ten bits at a time: 13 table look-ups write all 26 digits.
_PAIRS = tuple(_CROCKFORD[i >> 5] + _CROCKFORD[i & 31] for i in range(1024))
_SHIFTS = tuple(range(120, -1, -10))
_MAX_TS = (1 << 48) - 1
_RANDOM_MASK = (1 << 80) - 1
# 128 bits fill 25.6 digits; the first of 26 digits carries only 3 bits.
_FIRST_DIGITS = frozenset("01234567")
_TS_DIGITS = 10
_RANDOM_DIGITS = 16
# ClickIds encodes the random digits of this many ids at once (a power of two).
_BATCH = 64
_BATCH_DIGITS = _BATCH * _RANDOM_DIGITS
_RANDOM_BYTES = 10  # 80 bits


def _spreading_steps(groups: int) -> tuple[tuple[int, int, int], ...]:
    """(shift, keep, move) masks for `v = (v & keep) | ((v << shift) & move)` which, applied
    in turn, move each 5-bit group of a number of `groups` groups (a power of two) to the
    low bits of a byte of its own, in order. The number starts as one lane of `groups`
    bytes; each step halves the lanes: the lower half of a lane's groups stays, the upper
    half moves up to the start of the lane's upper half."""
    steps = []
    lane = total = groups * 8
    while groups > 1:
        half = groups // 2 * 5  # bits of the lower half of a lane's groups
        keep = move = 0
        for base in range(0, total, lane):
            keep |= ((1 << half) - 1) << base
            move |= ((1 << half) - 1) << (base + lane // 2)
        steps.append((lane // 2 - half, keep, move))
        lane //= 2
        groups //= 2
    return tuple(steps)


_STEPS = _spreading_steps(_BATCH_DIGITS)
_DIGIT_OF_BYTE = bytes(ord(_CROCKFORD[byte & 31]) for byte in range(256))


def _seeded_bytes(seed: bytes) -> Callable[[int], bytes]:
    """A reproducible byte stream for tests: 80 bits per id from a seeded Mersenne Twister,
    in the order ids are made. Never used without a seed (it is predictable from output)."""
    bits = random.Random(seed).getrandbits

    def draw(size: int) -> bytes:
        return b"".join([bits(80).to_bytes(_RANDOM_BYTES, "big")
                         for _ in range(size // _RANDOM_BYTES)])

    return draw


class ClickIdError(TurnoutError, ValueError):
    """The text is not a well-formed click id."""


class ClickIds:
    """A generator of click ids: 80 random bits each from `os.urandom`, drawn for a batch of
    ids at once, so an id costs a slice of a string."""

    __slots__ = ("_clock", "_digits", "_next", "_prefix", "_random_bytes", "_ts")

    def __init__(
        self, clock: Callable[[], int] | None = None, seed: bytes | None = None
    ) -> None:
        # Ids are capabilities (a postback names one): their random part comes from the OS
        # CSPRNG. A seed (tests, golden comparisons) gives a reproducible, predictable stream.
        self._random_bytes = os.urandom if seed is None else _seeded_bytes(seed)
        self._clock = clock or time.time_ns
        self._ts = -1
        self._prefix = ""
        self._digits = ""  # the random digits of a batch of ids, and where the next starts
        self._next = _BATCH_DIGITS

    def new(self, ts_ms: int | None = None) -> str:
        """encode(ts_ms, the next 80 random bits): the same ids, in the same order, as
        drawing 80 bits per id and encoding them one by one."""
        if ts_ms is None:
            ts_ms = self._clock() // 1_000_000
        if ts_ms != self._ts:
            # The first 10 digits are 2 zero bits and the 48-bit timestamp, the last 16 the
            # 80 random bits: ids made in the same millisecond share the prefix.
            self._prefix = encode(ts_ms, 0)[:_TS_DIGITS]
            self._ts = ts_ms
        start = self._next
        if start == _BATCH_DIGITS:
            self._digits = self._draw_digits()
            start = 0
        self._next = start + _RANDOM_DIGITS
        return self._prefix + self._digits[start : start + _RANDOM_DIGITS]

    def _draw_digits(self) -> str:
        """The random digits of the next _BATCH ids, end to end. Encoding 80 bits costs a
        dozen big-int operations; here they run once for the whole batch: spread one 5-bit
        group per byte, then one translate to digits."""
        value = int.from_bytes(self._random_bytes(_BATCH * _RANDOM_BYTES), "big")
        for shift, keep, move in _STEPS:
            value = (value & keep) | ((value << shift) & move)
        return value.to_bytes(_BATCH_DIGITS, "big").translate(_DIGIT_OF_BYTE).decode("ascii")


def encode(ts_ms: int, randomness: int) -> str:
    if not 0 <= ts_ms <= _MAX_TS:
        raise ClickIdError("timestamp out of range")
    value = (ts_ms << 80) | (randomness & _RANDOM_MASK)
    pairs = _PAIRS
    return "".join([pairs[(value >> shift) & 1023] for shift in _SHIFTS])


def decode(text: str) -> tuple[int, int]:
    """Return (timestamp_ms, randomness) or raise ClickIdError. Case-insensitive."""
    if len(text) != LENGTH:
        raise ClickIdError(f"click id must be {LENGTH} characters")
    if text[0] not in _FIRST_DIGITS or not _VALID.issuperset(text):
        raise ClickIdError("click id has characters outside Crockford base32")
    value = int(text.translate(_FROM_CROCKFORD), 32)
    return value >> 80, value & _RANDOM_MASK


def timestamp_ms(text: str) -> int:
    return decode(text)[0]


def normalize(text: str) -> str:
    """The canonical (upper-case) form of a valid id; raises ClickIdError otherwise."""
    decode(text)
    return text.upper()
