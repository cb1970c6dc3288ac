"""JSON merge patch: the examples of RFC 7396 appendix A, and its laws under hypothesis."""

from __future__ import annotations

import copy

import pytest
from hypothesis import given
from hypothesis import strategies as st

from turnout.control.merge_patch import apply

RFC_EXAMPLES = [
    ({"a": "b"}, {"a": "c"}, {"a": "c"}),
    ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
    ({"a": "b"}, {"a": None}, {}),
    ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
    ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
    ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
    ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
    ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
    (["a", "b"], ["c", "d"], ["c", "d"]),
    ({"a": "b"}, ["c"], ["c"]),
    ({"a": "foo"}, None, None),
    ({"a": "foo"}, "bar", "bar"),
    ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
    ([1, 2], {"a": "b", "c": None}, {"a": "b"}),
    ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
]


@pytest.mark.parametrize(("target", "patch", "result"), RFC_EXAMPLES)
def test_rfc_7396_examples(target: object, patch: object, result: object) -> None:
    assert apply(target, patch) == result


json = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=4),
                    lambda inner: st.lists(inner, max_size=3)
                    | st.dictionaries(st.text(max_size=3), inner, max_size=3),
                    max_leaves=12)
objects = st.dictionaries(st.text(max_size=3), json, max_size=4)


@given(objects, objects)
def test_inputs_are_not_changed_and_patching_twice_is_once(target: dict, patch: dict) -> None:
    before = copy.deepcopy((target, patch))
    once = apply(target, patch)
    assert (target, patch) == before
    assert apply(once, patch) == once


@given(objects, objects)
def test_members_not_in_the_patch_are_kept(target: dict, patch: dict) -> None:
    result = apply(target, patch)
    for name, value in target.items():
        if name not in patch:
            assert result[name] == value
    for name, value in patch.items():
        if value is None:
            assert name not in result
