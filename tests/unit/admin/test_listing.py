"""List parameters and cursors of the entity routes (api/admin/listing.py)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from starlette.datastructures import QueryParams

from turnout.api.admin.listing import encode_cursor, list_query
from turnout.api.problems import Problem
from turnout.control.entity_list import ListQuery


def test_defaults() -> None:
    assert list_query("offers", QueryParams("")) == ListQuery()


def test_everything_given() -> None:
    query = list_query("campaigns", QueryParams(
        "limit=5&sort=-updated_at&q=sum&status=active,paused&status=draft&parent=p"))
    assert query == ListQuery(sort="updated_at", descending=True, limit=5,
                              status=("active", "paused", "draft"), parent="p", q="sum")


@given(st.sampled_from(["seq", "name", "id", "created_at", "code"]), st.booleans(),
       st.one_of(st.integers(-2**63, 2**63 - 1), st.text(max_size=20),
                 st.just("2026-01-01T00:00:00.123456+00:00")),
       st.text(min_size=1, max_size=64))
def test_a_cursor_comes_back_as_it_went(sort: str, descending: bool, value: object,
                                        last_id: str) -> None:
    query = ListQuery(sort=sort, descending=descending)
    cursor = encode_cursor(query, (value, last_id))
    params = f"sort={'-' if descending else ''}{'' if sort == 'seq' else sort}&cursor={cursor}"
    assert list_query("campaigns", QueryParams(params)).after == (value, last_id)


@pytest.mark.parametrize(("kind", "params", "path"), [
    ("campaigns", "limit=0", "limit"), ("campaigns", "limit=1001", "limit"),
    ("campaigns", "limit=x", "limit"), ("campaigns", "sort=colour", "sort"),
    ("offers", "sort=code", "sort"), ("offers", "status=active", "status"),
    ("funnels", "parent=x", "parent"), ("campaigns", "status=running", "status"),
    ("campaigns", "cursor=bm90IGpzb24", "cursor"), ("campaigns", "cursor=!!", "cursor"),
    ("campaigns", "page=2", "page"),
])
def test_bad_parameters_name_themselves(kind: str, params: str, path: str) -> None:
    with pytest.raises(Problem) as refused:
        list_query(kind, QueryParams(params))
    assert refused.value.status == 400 and refused.value.errors[0][0] == path


def test_a_cursor_keeps_its_sort() -> None:
    cursor = encode_cursor(ListQuery(sort="name"), ("b", "x"))
    with pytest.raises(Problem, match="sort"):
        list_query("campaigns", QueryParams(f"sort=-name&cursor={cursor}"))


def test_children_fix_the_parent() -> None:
    assert list_query("campaigns", QueryParams(""), parent="p").parent == "p"
    with pytest.raises(Problem):
        list_query("campaigns", QueryParams("parent=q"), parent="p")
