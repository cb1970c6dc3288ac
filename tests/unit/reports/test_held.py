"""The held report's SQL, and the copy of it in docs/analytics.md."""

from __future__ import annotations

import re

import pytest

from turnout.reports import held
from turnout.reports.docs import DOC
from turnout.reports.errors import ParameterError
from turnout.reports.spec import build_spec


def _words(sql: str) -> list[str]:
    return re.findall(r"[^\s(),]+|[(),]", sql)


def test_the_documented_sql_is_the_builders():
    section = DOC.read_text().split("## Currencies", 1)[1].split("\n## ", 1)[0]
    documented = re.search(r"```sql\n(.*?)```", section, re.S).group(1)
    query = held.build_query(build_spec(workspace="acme", currency="EUR",
                                        start="2024-03-01", end="2024-03-31"))
    built = query.sql.rsplit("\nLIMIT", 1)[0]
    assert _words(documented) == _words(built)


def test_held_needs_the_workspace_currency():
    with pytest.raises(ParameterError, match="currency"):
        held.build_query(build_spec(workspace="acme", start="2024-03-01"))


def test_count_spec_only_when_money_comes_from_conversions():
    money = build_spec(workspace="acme", currency="EUR", group_by="country", sort="-revenue",
                       metrics="clicks,revenue", limit=5, offset=10)
    counting = held.count_spec(money)
    assert counting is not None
    assert (counting.group_by, counting.metrics, counting.offset) == ((), ("held_conversions",),
                                                                      0)
    assert held.count_spec(build_spec(workspace="acme", metrics="clicks,lp_ctr")) is None
