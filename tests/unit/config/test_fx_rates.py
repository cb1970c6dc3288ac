"""The rates CSV: every bad line named with its number, nothing accepted when one is bad."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from turnout.config.fx_rates import RatesInvalid, parse_csv
from turnout.config.values import CURRENCIES

HEADER = "date,currency,rate\n"


def problems(text: str, base: str = "EUR") -> list[str]:
    with pytest.raises(RatesInvalid) as caught:
        parse_csv(text, base)
    return [str(p) for p in caught.value.problems]


def test_a_good_file_is_read_exactly():
    rates = parse_csv(HEADER + "2024-03-02,USD,1.0825\n\n2024-03-01,GBP,0.8567\n", "EUR")
    assert rates.base == "EUR"
    assert [(r.day, r.currency, r.rate) for r in rates.rates] == [
        (dt.date(2024, 3, 1), "GBP", Decimal("0.8567")),
        (dt.date(2024, 3, 2), "USD", Decimal("1.0825"))]
    assert rates.days == (dt.date(2024, 3, 1), dt.date(2024, 3, 2))


def test_every_bad_line_is_reported_with_its_number():
    text = (HEADER + "2024-03-01,USD,1.08\n"  # line 2: fine
            "2024-02-30,USD,1.08\n"  # 3: no such day
            "2024-03-01,usd,1.08\n"  # 4: lower case is not a code
            "2024-03-01,XYZ,1.08\n"  # 5
            "2024-03-01,GBP,-0.8\n"  # 6
            "2024-03-01,GBP,0\n"  # 7
            "2024-03-01,GBP,1e3\n"  # 8
            "2024-03-01,GBP,0.12345678901\n"  # 9: 11 places
            "2024-03-01,USD,1.09\n"  # 10: a second USD that day
            "2024-03-01,EUR,1\n"  # 11: the base
            "2024-03-01,JPY\n"  # 12
            "03/01/2024,JPY,160\n")  # 13
    found = problems(text)
    assert [p.split(":")[0] for p in found] == [
        "line 3.date", "line 4.currency", "line 5.currency", "line 6.rate", "line 7.rate",
        "line 8.rate", "line 9.rate", "line 10", "line 11.currency", "line 12",
        "line 13.date"]
    assert "first is on line 2" in found[7]
    assert found[4] == "line 7.rate: must be > 0"


def test_header_base_and_emptiness():
    assert problems("day,currency,rate\n2024-03-01,USD,1\n")[0].startswith("line 1:")
    assert problems("") == ["line 1: the header must be date,currency,rate; got 'nothing'"]
    assert problems(HEADER) == ["no rates: give at least one line after the header"]
    assert problems(HEADER + "2024-03-01,USD,1\n", base="EURO")[0].startswith("base:")
    assert parse_csv("\ufeffDate, Currency ,RATE\n2024-03-01,USD,1\n").base == "EUR"


_CODES = sorted(CURRENCIES - {"EUR"})


@given(st.lists(st.tuples(st.dates(dt.date(2000, 1, 1), dt.date(2099, 12, 31)),
                          st.sampled_from(_CODES),
                          st.decimals(min_value=Decimal("0.0000000001"),
                                      max_value=Decimal("999999999999"), places=10)),
                min_size=1, max_size=30, unique_by=lambda r: (r[0], r[1])))
def test_any_valid_file_round_trips(rows):
    text = HEADER + "".join(f"{d.isoformat()},{c},{r:f}\n" for d, c, r in rows)
    rates = parse_csv(text)
    assert {(r.day, r.currency, r.rate) for r in rates.rates} == set(rows)


@given(st.lists(st.text(st.characters(blacklist_categories=("Cs",)), max_size=12),
                min_size=3, max_size=3), st.integers(0, 5))
def test_garbage_lines_are_refused_or_valid_never_a_crash(cells, where):
    good = [f"2024-03-{day:02d},USD,1.1" for day in range(1, 6)]
    lines = [*good[:where], ",".join(c.replace("\n", " ") for c in cells), *good[where:]]
    try:
        rates = parse_csv(HEADER + "\n".join(lines) + "\n")
    except RatesInvalid as exc:
        assert exc.problems and all(str(p).startswith(("line ", "no rates")) for p in
                                    exc.problems)
    else:
        assert len(rates.rates) in (5, 6)
