"""Money as the ledger counts it: integer micro-units, decimal text only at the edges.

These are the simulator's own statements of the product's money rules (SPEC §3, §7), kept
independent of the edge and report code on purpose: the end-to-end test compares the two.
"""

from __future__ import annotations

import re
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from typing import Final

from turnout.config.compiled import CostModel
from turnout.events import MICROS, amount_text

_AMOUNT: Final = re.compile(r"0*([0-9]{1,10})(?:\.([0-9]{1,6})0*)?", re.ASCII)


def amount_micros(text: str) -> int | None:
    """A traffic source's decimal amount in micros: ASCII digits, below 1e10, at most six
    decimals that are not zeros. None otherwise (the edge then counts the click at 0)."""
    match = _AMOUNT.fullmatch(text.strip(" \t"))
    if match is None:
        return None
    whole, fraction = match.groups()
    return int(whole) * MICROS + (int(fraction.ljust(6, "0")) if fraction else 0)


def click_cost(model: CostModel, cost_token: str | None) -> int:
    """What one counted click costs when it is made (cpa/revshare/fixed_total come later)."""
    if model.type == "cpc":
        return model.value_micros
    if model.type == "url_param":
        return (amount_micros(cost_token) or 0) if cost_token else 0
    if model.type == "cpm":
        return model.value_micros // 1000
    return 0


def revshare_cost(revenue_micros: int, percent_micros: int) -> int:
    """The source's share of one conversion's revenue, cut to whole micros."""
    return revenue_micros * percent_micros // (100 * MICROS)


def text(micros: int) -> str:
    """Micros as a plain decimal string with six places ("12.500000")."""
    return f"{Decimal(micros).scaleb(-6):.6f}"


def roi(revenue_micros: int, cost_micros: int) -> Decimal | None:
    """(revenue - cost) / cost x 100 to 2 places; None without cost.

    The quotient is cut to 12 places, then rounded half away from zero, which is what a
    Decimal(…, 12) division followed by round(…, 2) gives in ClickHouse."""
    if cost_micros == 0:
        return None
    quotient = Decimal((revenue_micros - cost_micros) * 100) / Decimal(cost_micros)
    cut = quotient.quantize(Decimal("1e-12"), rounding=ROUND_DOWN)
    return cut.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def format_payout(micros: int) -> str:
    """A payout as a network would write it: "12.5", "4.1", "3"."""
    return amount_text(micros)
