"""Decimal money text -> integer micro-units, exactly or not at all.

One parser for every amount the edge reads (a traffic source's `cost` token, a postback's
`payout`, an event's `value`): ASCII digits, an optional `.` and decimals, nothing that would
have to be rounded, cut or guessed. Its bounds are stated here once.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Final

from turnout.config.compiled import CostModel
from turnout.events import MICROS

MAX_WHOLE_DIGITS: Final = 10
DECIMALS: Final = 6  # micro-units
# The largest amount read: 9,999,999,999.999999. Int64 micros would hold 9.2e12, but a
# ClickHouse sum over Int64 must not wrap either, so a single amount stays far below it.
MAX_MICROS: Final = 10**MAX_WHOLE_DIGITS * MICROS - 1
# The reference the parser is property-tested against (tests/unit/edge/test_money.py).
_AMOUNT: Final = re.compile(r"([0-9]+)(?:\.([0-9]+))?")
_ASCII_SPACE: Final = " \t"
_DIGITS: Final = frozenset("0123456789")


class AmountError(ValueError):
    """Text that is not an amount the edge can store exactly; `str()` says why."""


def amount_micros(text: str) -> int:
    """Micro-units of a non-negative decimal ("12.5" -> 12_500_000); AmountError otherwise.

    Decimals past the sixth are refused unless they are zeros ("1.50000000" is exact).
    """
    whole, dot, fraction = text.strip(_ASCII_SPACE).partition(".")
    # `isdecimal` alone would take Arabic-Indic and other Unicode digits, which `int` reads.
    if not whole or not whole.isascii() or not whole.isdigit() or (
        dot and not (fraction and fraction.isascii() and fraction.isdigit())
    ):
        raise AmountError("must be a non-negative decimal amount (ASCII digits, e.g. 12.50)")
    if len(whole.lstrip("0")) > MAX_WHOLE_DIGITS:
        raise AmountError(f"must be below 1e{MAX_WHOLE_DIGITS}")
    if len(fraction) > DECIMALS and fraction[DECIMALS:].strip("0"):
        raise AmountError(f"has more than {DECIMALS} decimals")
    return int(whole) * MICROS + int(fraction[:DECIMALS].ljust(DECIMALS, "0"))


def parse_micros(text: str) -> int | None:
    """`amount_micros`, or None when the text is not an exact amount."""
    try:
        return amount_micros(text)
    except AmountError:
        return None


class CostRefusals:
    """Clicks whose cost token was not an amount (counted at cost 0: see click_cost)."""

    total = 0


@lru_cache(maxsize=4096)  # a traffic source sends a few distinct bids many times over
def _bid_micros(text: str) -> int:
    micros = parse_micros(text)
    return -1 if micros is None else micros


def click_cost(model: CostModel, cost_token: str) -> int:
    """The cost of one click, as decided at the click (CPA/RevShare cost comes later).

    A cost token that is not an exact amount does not cost us the click (the visitor is
    redirected, the click counted at cost 0); it is counted in
    `turnout_edge_click_cost_refused_total` and the raw token stays in the click's params.
    """
    kind = model.type
    if kind == "cpc":
        return model.value_micros
    if kind == "url_param":
        if not cost_token:
            return 0
        micros = _bid_micros(cost_token)
        if micros < 0:
            CostRefusals.total += 1
            return 0
        return micros
    if kind == "cpm":
        return model.value_micros // 1000
    return 0
