"""Decimal money text -> integer micro-units, without floats and without Decimal."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Final

from turnout.config.compiled import CostModel
from turnout.events import MICROS

_AMOUNT: Final = re.compile(r"(\d{1,12})(?:\.(\d{1,6})\d*)?")
MAX_MICROS: Final = 10**12 * MICROS


def parse_micros(text: str) -> int | None:
    """Micro-units of a non-negative decimal ("12.5" -> 12_500_000); None when malformed.

    Digits past the sixth decimal are cut (a traffic source's 0.0012345 bid is 1234 micros).
    """
    # The same as _AMOUNT.fullmatch (kept as the reference for tests), without the regex:
    # `isdecimal` is exactly the set `\d` matches.
    whole, dot, fraction = text.strip().partition(".")
    if not (0 < len(whole) <= 12 and whole.isdecimal()):
        return None
    micros = int(whole) * MICROS
    if dot:
        if not fraction.isdecimal():
            return None
        micros += int(fraction[:6].ljust(6, "0"))
    return micros


@lru_cache(maxsize=4096)  # a traffic source sends a few distinct bids many times over
def _bid_micros(text: str) -> int:
    # A bad bid from the source must not cost us the click: it is counted at 0.
    return parse_micros(text) or 0


def click_cost(model: CostModel, cost_token: str) -> int:
    """The cost of one click, as decided at the click (CPA/RevShare cost comes later)."""
    kind = model.type
    if kind == "cpc":
        return model.value_micros
    if kind == "url_param":
        return _bid_micros(cost_token) if cost_token else 0
    if kind == "cpm":
        return model.value_micros // 1000
    return 0
