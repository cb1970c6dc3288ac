"""Converting conversions into the workspace currency at query time (SPEC §11 Currencies).

A conversion keeps its original `payout_micros` and `currency`; a report converts it at the
rate of its UTC day (`toDate(ts)`, the day the edge accepted it) into the report's
currency, the workspace's (`{currency:String}`). Both rates of a day are quoted against
the day's base (fx_rates_latest, ingest/migrations/0011_fx.sql), so

    amount = payout_micros x rate(workspace currency) / rate(conversion currency)

rounded half-even (banker's) to the micro-unit per conversion, then summed: reports are
reproducible to the cent. The division runs in Decimal256 with 30 places: a rate has at
most 10 places and 12 integer digits, so an exact .5 is always seen as one.

A conversion in the workspace currency needs no rate, nor does one with no currency
(those were always summed as the workspace's). Any other one whose day has no rate for
its currency or for the workspace currency is *held*: it adds 0 to every money sum
(revenue and the RevShare cost taken from it) and counts in `held_conversions`; when the
rate is imported, the next report converts it.
"""

from __future__ import annotations

import decimal
from decimal import Decimal
from typing import Final

# One row per (day, conversion currency) with both rates of the pair; joined LEFT, a
# conversion with no row reads fx_found = 0.
_PAIRS: Final = (
    "SELECT f.day AS fx_day, f.currency AS fx_currency, t.rate AS fx_to, f.rate AS fx_from,"
    " toUInt8(1) AS fx_found\n"
    "        FROM fx_rates_latest AS f INNER JOIN fx_rates_latest AS t ON f.day = t.day\n"
    "        WHERE t.currency = {currency:String}"
)
CONVERSIONS: Final = (
    "conversions_latest\n"
    f"    LEFT JOIN (\n        {_PAIRS}\n    ) AS fx"
    " ON fx.fx_day = toDate(conversions_latest.ts)"
    " AND fx.fx_currency = conversions_latest.currency"
)
"""The FROM of a query that converts: conversions_latest with its day's rates."""

HELD: Final = "(currency NOT IN ('', {currency:String}) AND fx_found = 0)"
"""A row whose money is unknown in the workspace currency (no rate for its day)."""


def converted(micros: str) -> str:
    """SQL for `micros` (of the row's currency) in the workspace currency; 0 when held."""
    return (f"if(currency IN ('', {{currency:String}}), {micros}, if(fx_found = 1,"
            f" toInt64(roundBankers(toDecimal256({micros}, 20) * fx_to"
            f" / if(fx_found = 1, fx_from, toDecimal128(1, 10)), 0)), 0))")


_SQL_PLACES: Final = Decimal(1).scaleb(-30)  # the quotient's scale in converted()'s SQL
_EXACT: Final = decimal.Context(prec=80)


def convert_micros(micros: int, to_rate: Decimal, from_rate: Decimal) -> int:
    """`converted()` in Python, to the same micro-unit: `micros` of a currency whose rate is
    `from_rate` in the currency whose rate is `to_rate` (both against one base). ClickHouse
    cuts the quotient to 30 places, then rounds half-even; so does this (simulate's ground
    truth uses it to say what a report must show)."""
    quotient = _EXACT.divide(_EXACT.multiply(Decimal(micros), to_rate), from_rate)
    cut = quotient.quantize(_SQL_PLACES, rounding=decimal.ROUND_DOWN, context=_EXACT)
    return int(cut.quantize(Decimal(1), rounding=decimal.ROUND_HALF_EVEN, context=_EXACT))
