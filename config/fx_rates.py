"""Exchange rates as imported: one CSV of `date,currency,rate`, parsed and validated here
for every door (`turnout fx import`, `PUT /api/v1/fx/rates`), so both refuse the same lines.

Quoting: `rate` is how many units of `currency` one unit of the file's base currency buys
(`--base`, `?base=`; default EUR, the convention of the ECB reference rates): with base
EUR, `2024-03-01,USD,1.0825` means 1 EUR = 1.0825 USD. One rate per day and currency;
a day's rates replace that day's earlier import as a whole (reports/fx_store.py).

Every bad line is reported with its line number (the header is line 1) and nothing is
imported when any line is bad.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Final

from turnout.config.errors import ConfigError, Problem
from turnout.config.values import CURRENCIES

DEFAULT_BASE: Final = "EUR"
HEADER: Final = ("date", "currency", "rate")
MAX_RATES: Final = 100_000
RATE_PLACES: Final = 10
RATE_DIGITS: Final = 12  # integer digits: 1 EUR buys tens of thousands of some currencies
# Exact decimals only: no sign, no exponent, no thousands separators.
_RATE: Final = re.compile(rf"\d{{1,{RATE_DIGITS}}}(?:\.\d{{1,{RATE_PLACES}}})?")
_DATE: Final = re.compile(r"\d{4}-\d{2}-\d{2}")


@dataclass(frozen=True, slots=True, order=True)
class Rate:
    day: dt.date
    currency: str
    rate: Decimal
    """Units of `currency` per 1 unit of the base."""


@dataclass(frozen=True, slots=True)
class RateSet:
    base: str
    rates: tuple[Rate, ...]

    @property
    def days(self) -> tuple[dt.date, ...]:
        return tuple(sorted({r.day for r in self.rates}))


class RatesInvalid(ConfigError):
    """The rates have problems; every one of them is in `problems`."""

    def __init__(self, problems: list[Problem]) -> None:
        shown = "; ".join(map(str, problems[:5]))
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        super().__init__(f"{len(problems)} problem(s), nothing imported: {shown}{more}")
        self.problems = problems


def base_problem(base: str) -> str | None:
    if base not in CURRENCIES:
        return f"must be an ISO 4217 currency code like EUR, got {base!r}"
    return None


def rate_problem(text: str) -> str | None:
    """Why `text` is not a usable rate, or None when it is."""
    if _RATE.fullmatch(text) is None:
        return (f"must be a positive decimal like 1.0825 (at most {RATE_DIGITS} digits before "
                f"the point and {RATE_PLACES} after), got {text!r}")
    if Decimal(text) == 0:
        return "must be > 0"
    return None


def _day(text: str) -> dt.date | None:
    if _DATE.fullmatch(text) is None:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        return None


def validate(base: str, lines: list[tuple[int, list[str]]]) -> RateSet:
    """Rows of (line number, [date, currency, rate]) as a RateSet; raises RatesInvalid."""
    problems: list[Problem] = []
    problem = base_problem(base)
    if problem:
        problems.append(Problem("base", problem))
    seen: dict[tuple[dt.date, str], int] = {}
    rates: list[Rate] = []
    for number, cells in lines:
        where = f"line {number}"
        if len(cells) != len(HEADER):
            problems.append(Problem(where, f"expected 3 fields (date,currency,rate), got "
                                           f"{len(cells)}"))
            continue
        date_text, currency, rate_text = (c.strip() for c in cells)
        day = _day(date_text)
        if day is None:
            problems.append(Problem(f"{where}.date",
                                    f"must be an ISO date YYYY-MM-DD, got {date_text!r}"))
        if currency not in CURRENCIES:
            problems.append(Problem(f"{where}.currency",
                                    f"must be an ISO 4217 currency code like USD, got "
                                    f"{currency!r}"))
        elif currency == base:
            problems.append(Problem(f"{where}.currency",
                                    f"{currency} is the base: its rate is 1 by definition"))
        problem = rate_problem(rate_text)
        if problem:
            problems.append(Problem(f"{where}.rate", problem))
        if day is None or problem or currency not in CURRENCIES or currency == base:
            continue
        earlier = seen.setdefault((day, currency), number)
        if earlier != number:
            problems.append(Problem(where, f"a second rate for {currency} on {day} (the first "
                                           f"is on line {earlier})"))
            continue
        rates.append(Rate(day, currency, Decimal(rate_text)))
    if not lines:
        problems.append(Problem("", "no rates: give at least one line after the header"))
    elif len(lines) > MAX_RATES:
        problems.append(Problem("", f"at most {MAX_RATES} rates per import, got {len(lines)}"))
    if problems:
        raise RatesInvalid(problems)
    return RateSet(base, tuple(sorted(rates)))


def parse_csv(text: str, base: str = DEFAULT_BASE) -> RateSet:
    """A CSV with the header `date,currency,rate` as a RateSet; raises RatesInvalid with
    every problem. Blank lines are skipped; line numbers count them."""
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff")))
    try:
        header = next(reader, None)
        if header is None or tuple(h.strip().lower() for h in header) != HEADER:
            got = ",".join(header) if header else "nothing"
            raise RatesInvalid([Problem("line 1", f"the header must be date,currency,rate; "
                                                  f"got {got!r}")])
        lines = [(reader.line_num, row) for row in reader if any(c.strip() for c in row)]
    except csv.Error as exc:
        raise RatesInvalid([Problem(f"line {reader.line_num}", f"not CSV: {exc}")]) from None
    return validate(base, lines)
