"""Scalar value rules shared by validation and compile: ids, codes, money, time, currency."""

from __future__ import annotations

import re
import zoneinfo
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import cache
from typing import Final

from turnout.events import MICROS

SLUG: Final = re.compile(r"[A-Za-z0-9_-]{1,64}")  # ids and tracking codes
PARAM_NAME: Final = re.compile(r"[A-Za-z0-9_.\-\[\]]{1,64}")  # a URL query parameter name
# At most 6 decimals, so exact in micro-units; a sign is accepted here and refused
# by `amount_problem` with a clearer message.
_AMOUNT: Final = re.compile(r"-?\d{1,15}(?:\.\d{1,6})?")

# ISO 4217 currencies in circulation (metals, bond units and test codes left out).
_CURRENCY_CODES: Final = """
    AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BOV BRL
    BSD BTN BWP BYN BZD CAD CDF CHE CHF CHW CLF CLP CNY COP COU CRC CUC CUP CVE CZK DJF
    DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HRK HTG
    HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP
    LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD NGN
    NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG
    SEK SGD SHP SLE SLL SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS
    UAH UGX USD USN UYI UYU UYW UZS VED VES VND VUV WST XAF XCD XCG XOF XPF YER ZAR ZMW
    ZWG ZWL
"""
CURRENCIES: Final = frozenset(_CURRENCY_CODES.split())


def amount_problem(text: str) -> str | None:
    """Why `text` is not a usable non-negative money amount, or None when it is."""
    if _AMOUNT.fullmatch(text) is None:
        return f'must be a decimal amount like "12.50" (at most 6 decimals), got {text!r}'
    if text.startswith("-") and Decimal(text) != 0:
        return "must be >= 0"
    return None


def percent_problem(text: str) -> str | None:
    """Why `text` is not a percentage 0..100 (a decimal, at most 6 decimals), or None."""
    message = amount_problem(text)
    if message is None and Decimal(text) > 100:
        return "must be <= 100"
    return message


def to_micros(text: str) -> int:
    return int(Decimal(text) * MICROS)


_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


@cache
def _timezones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def timezone_problem(name: str) -> str | None:
    if name not in _timezones():
        return f"unknown IANA timezone {name!r}"
    return None


def to_epoch_ms(text: str, timezone: str) -> int:
    """An ISO 8601 date-time as epoch ms; without an offset it is wall time in `timezone`."""
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zoneinfo.ZoneInfo(timezone))
    return (moment - _EPOCH) // timedelta(milliseconds=1)


def instant_problem(text: str) -> str | None:
    try:
        datetime.fromisoformat(text)
    except ValueError:
        return f"must be an ISO 8601 date-time like 2025-06-01T00:00:00, got {text!r}"
    return None
