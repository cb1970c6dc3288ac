"""reports.fx.convert_micros gives what the SQL of reports.fx.converted gives: the figures
below are those tests/integration/test_reports.py reads from ClickHouse."""

from __future__ import annotations

from decimal import Decimal

import pytest

from turnout.reports.fx import convert_micros

ONE = Decimal(1)


@pytest.mark.parametrize(("micros", "to_rate", "from_rate", "expected"), [
    (12_500_000, ONE, Decimal("1.0825"), 11_547_344),  # 11547344.1108...
    (20_000_000, ONE, Decimal("0.8567"), 23_345_395),
    (4_100_000, ONE, Decimal("0.8"), 5_125_000),  # exact
    (2, ONE, Decimal("0.8"), 2),  # 2.5 -> the even 2
    (6, ONE, Decimal("0.8"), 8),  # 7.5 -> the even 8
    (10_000_000, Decimal("1.0825"), Decimal("0.8567"), 12_635_695),  # a cross rate
    (1_000_000_000, ONE, Decimal("160.25"), 6_240_250),
])
def test_conversion_is_the_reports_to_the_micro(micros, to_rate, from_rate, expected):
    assert convert_micros(micros, to_rate, from_rate) == expected
