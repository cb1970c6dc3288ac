from __future__ import annotations

from urllib.parse import urlencode

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from turnout.edge.errors import BadInput
from turnout.edge.inputs import cookie, parse_query, primary_language, referrer_domain


def test_plain_and_encoded_values():
    assert parse_query(b"a=1&b=x%20y&c=p+q&d=&e") == {"a": "1", "b": "x y", "c": "p q", "d": "",
                                                       "e": ""}
    assert parse_query(b"a=1&a=2") == {"a": "1"}  # first wins
    assert parse_query(b"") == {}
    assert parse_query(b"city=K%C3%B6ln") == {"city": "Köln"}


_names = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=20)
_values = st.text(st.characters(blacklist_categories=("Cs",)), max_size=60)


@settings(deadline=None)  # a loaded CI box must not fail a parser property
@given(st.dictionaries(_names, _values, max_size=10))
def test_roundtrip_of_urlencode(params):
    assert parse_query(urlencode(params).encode(), max_bytes=100_000) == params


@pytest.mark.parametrize(("raw", "status"), [
    (b"a=%zz", 400),
    (b"a=%4", 400),
    (b"a=%ff%fe", 400),  # not UTF-8
    (b"a=\xff", 400),
    (b"a=" + b"x" * 5000, 414),
    (b"&".join(b"p%d=1" % i for i in range(100)), 400),
    (b"a=" + b"x" * 2000, 400),
])
def test_hostile_queries(raw, status):
    with pytest.raises(BadInput) as caught:
        parse_query(raw)
    assert caught.value.status == status


def test_control_characters_are_kept_as_data():
    # CR/LF are data here; templates percent-encode every value before it reaches a header.
    assert parse_query(b"a=x%0d%0aSet-Cookie:%20y") == {"a": "x\r\nSet-Cookie: y"}


@pytest.mark.parametrize(("header", "language"), [
    ("en-GB,en;q=0.8", "en"),
    ("de-DE", "de"),
    ("fr;q=0.5, ru;q=0.9", "ru"),
    ("*", ""),
    ("*;q=1, pt-BR;q=0.1", "pt"),
    ("zh_CN", "zh"),
    ("garbage;q=x", ""),
    ("", ""),
    ("1234", ""),
])
def test_primary_language(header, language):
    assert primary_language(header) == language


@pytest.mark.parametrize(("referer", "domain"), [
    ("https://www.Facebook.com/some/path?x=1", "www.facebook.com"),
    ("http://user:pw@example.org:8080/", "example.org"),
    ("android-app://com.google.android.gm/", "com.google.android.gm"),
    ("not a url", ""),
    ("https://[2001:db8::1]:443/x", "[2001:db8::1]"),
])
def test_referrer_domain(referer, domain):
    assert referrer_domain(referer) == domain


def test_cookie():
    assert cookie("a=1; tv=ABC; c=3", "tv") == "ABC"
    assert cookie("xtv=1; tv=2", "tv") == "2"
    assert cookie("", "tv") == ""
    assert cookie('tv="Q"', "tv") == "Q"
