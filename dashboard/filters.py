"""Jinja filters: numbers as a media buyer reads them (the API's decimal strings in, text
out; no float ever touches money)."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, Final

from jinja2 import Environment

SYMBOLS: Final[Mapping[str, str]] = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥",
                                     "INR": "₹", "BRL": "R$", "AUD": "A$", "CAD": "C$"}
NONE: Final = "\u2013"  # an en dash: no value


def _decimal(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def money(value: Any, currency: str = "USD") -> str:
    """'1234.5' in USD -> '$1,234.50'; a currency without a symbol: '1,234.50 CHF'."""
    number = _decimal(value)
    if number is None:
        return NONE
    places = 0 if currency == "JPY" else 2
    rounded = abs(number).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    text = f"{rounded:,.{places}f}"
    sign = "-" if number < 0 else ""
    symbol = SYMBOLS.get(currency)
    return f"{sign}{symbol}{text}" if symbol else f"{sign}{text} {currency}"


def micros(value: Any, currency: str = "USD") -> str:
    """Integer micro-units (the meters' unit) as money."""
    number = _decimal(value)
    return NONE if number is None else money(number.scaleb(-6), currency)


def percent(value: Any, places: int = 2) -> str:
    """A percent figure ('12.3456' -> '12.35 %'); no value (a zero denominator) -> an en dash."""
    number = _decimal(value)
    if number is None:
        return NONE
    sign = "-" if number < 0 else ""
    return f"{sign}{abs(number):,.{places}f} %"


def count(value: Any) -> str:
    number = _decimal(value)
    if number is None:
        return NONE
    return f"{int(number):,}"


def share(weight: Any, weights: list[Any]) -> str:
    """A destination's share of its group by weight, as the live share % shows it."""
    total = sum(max(0, _int(w)) for w in weights)
    mine = max(0, _int(weight))
    if total == 0:
        return "0 %"
    return f"{mine * 100 / total:.1f} %"


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def metric(value: Any, kind: str, currency: str) -> str:
    """A report cell by its column kind (the report API's `money`, `percent`, ...)."""
    if kind in ("money", "money_rate"):
        return money(value, currency)
    if kind == "percent":
        return percent(value)
    if kind == "count":
        return count(value)
    return NONE if value is None or value == "" else str(value)


def install(environment: Environment) -> None:
    environment.filters.update(money=money, micros=micros, percent=percent, num=count, share=share,
                               metric=metric)
