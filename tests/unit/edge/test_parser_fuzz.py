"""Fuzzing the edge's request parsers (issue #15): whatever the bytes, the documented
refusal (BadInput with a 4xx) or a value; round trips where there is one."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from turnout.edge.errors import BadInput
from turnout.edge.inputs import (
    MAX_NAME,
    MAX_PARAMS,
    MAX_VALUE,
    cookie,
    parse_query,
    primary_language,
    referrer_domain,
)
from turnout.edge.postback import currency_of, event_of, payout_of, txid_of

FUZZ = settings(max_examples=500, derandomize=True, database=None)
# Within the limits even percent-encoded (12 bytes for a 4-byte character).
_NAME = st.text(st.characters(codec="utf-8", exclude_characters="&="), min_size=1,
                max_size=MAX_NAME // 4)
_VALUE = st.text(st.characters(codec="utf-8", exclude_characters="&"), max_size=40)


@FUZZ
@given(st.binary(max_size=600))
def test_any_query_is_parsed_or_refused_with_a_4xx(raw):
    try:
        params = parse_query(raw)
    except BadInput as refusal:
        assert 400 <= refusal.status < 500
    else:
        assert len(params) <= MAX_PARAMS
        assert all(len(k) <= MAX_NAME and len(v) <= MAX_VALUE for k, v in params.items())


@settings(FUZZ, max_examples=200)
@given(st.dictionaries(_NAME, _VALUE, max_size=5))
def test_an_encoded_query_round_trips(params):
    raw = "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in params.items())
    assert parse_query(raw.encode()) == params


@FUZZ
@given(st.text(max_size=300), st.sampled_from(["tv", "tu", "tc"]))
def test_any_cookie_header_is_read(header, name):
    value = cookie(header, name)
    assert isinstance(value, str) and ";" not in value


@settings(FUZZ, max_examples=200)
@given(st.from_regex(r"\A[A-Za-z0-9_-]{0,40}\Z"), st.text(max_size=60))
def test_a_cookie_round_trips_among_others(value, other):
    other = other.replace(";", "").replace("tv=", "")
    assert cookie(f"a=1; tv={value}; x={other}", "tv") == value


@FUZZ
@given(st.text(max_size=600))
def test_accept_language_and_referer_never_raise(text):
    assert primary_language(text) == "" or primary_language(text).isascii()
    assert isinstance(referrer_domain(text), str)


@FUZZ
@given(st.text(max_size=40))
def test_postback_fields_are_values_or_400s(text):
    for parse in (payout_of, lambda t: currency_of(t, "USD"), event_of, txid_of):
        try:
            parse(text)
        except BadInput as refusal:
            assert refusal.status == 400


@pytest.mark.parametrize("payout", ["\uff11", "\uff11.5", "1\uff10", "\u0663", "\u00b2"])
def test_a_non_ascii_digit_is_no_payout(payout):
    # Issue #15: a fullwidth digit was accepted as a payout.
    with pytest.raises(BadInput) as refused:
        payout_of(payout)
    assert refused.value.status == 400
