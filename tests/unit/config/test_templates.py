from __future__ import annotations

from urllib.parse import quote, unquote, urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from turnout.config.templates import (
    MACROS,
    POSTBACK_MACROS,
    Template,
    TemplateError,
    _encode,
    problems,
)


def test_render_substitutes_every_macro():
    template = Template.parse("https://lp.example.com/x/{offer_id}?cid={clickid}&c={country}")
    assert template.render({"clickid": "01ABC", "country": "US", "offer_id": "vpn-1"}) == (
        "https://lp.example.com/x/vpn-1?cid=01ABC&c=US"
    )


def test_missing_values_render_empty():
    template = Template.parse("https://lp.example.com/?a={sub1}&b={sub2}")
    assert template.render({"sub1": "x"}) == "https://lp.example.com/?a=x&b="
    assert template.render({}) == "https://lp.example.com/?a=&b="


def test_values_are_percent_encoded_with_nothing_safe():
    template = Template.parse("https://lp.example.com/p/{sub1}?q={sub2}")
    rendered = template.render({"sub1": "a/b?c#d", "sub2": "x&y=z @:%2F\r\nü"})
    assert rendered == (
        "https://lp.example.com/p/a%2Fb%3Fc%23d?q=x%26y%3Dz%20%40%3A%252F%0D%0A%C3%BC"
    )


def test_param_macros_look_up_param_names():
    template = Template.parse("https://lp.example.com/?utm={param:utm_source}")
    assert template.macros == ("param:utm_source",)
    rendered = template.render({"param:utm_source": "fb ads"})
    assert rendered == "https://lp.example.com/?utm=fb%20ads"


def test_template_without_macros_renders_its_text():
    template = Template.parse("https://lp.example.com/plain")
    assert template.render({"clickid": "x"}) == "https://lp.example.com/plain"


def test_templates_are_equal_by_text():
    text = "https://a.example.com/{ts}"
    assert Template.parse(text) == Template.parse(text)
    assert len({Template.parse(text), Template.parse(text)}) == 1
    assert Template.parse(text) != Template.parse("https://a.example.com/")


def test_every_spec_macro_is_known():
    expected = {
        "clickid", "campaign_id", "campaign_code", "offer_id", "lander_id", "country", "region",
        "city", "device", "os", "browser", "language", "external_id", "cost", "visitor_id", "ts",
    } | {f"sub{i}" for i in range(1, 11)}
    # lp_cid: the signed context of a lander URL (docs/decisions.md), not a postback's.
    assert expected | {"lp_cid"} == MACROS
    assert {"payout", "status", "txid"} <= POSTBACK_MACROS
    assert "lp_cid" not in POSTBACK_MACROS


HOST_LITERAL = "scheme and host must be literal (no macro before the path)"
NO_SPACES = "must not contain spaces, control characters or backslashes"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("https://lp.example.com/?x={nope}", "unknown macro {nope}"),
        ("https://lp.example.com/?x={param:}", "unknown macro {param:}"),
        ("https://lp.example.com/?x={clickid", "unbalanced brace"),
        ("https://lp.example.com/?x=}", "unbalanced brace"),
        ("ftp://lp.example.com/", "must be an absolute http(s) URL"),
        ("/relative/path?cid={clickid}", "must be an absolute http(s) URL"),
        ("javascript:alert(1)", "must be an absolute http(s) URL"),
        ("//lp.example.com/x", "must be an absolute http(s) URL"),
        ("{param:u}", "must be an absolute http(s) URL"),
        ("https://{param:host}/x", HOST_LITERAL),
        ("https://lp.example.com{sub1}", HOST_LITERAL),
        ("https://lp.example.com:{sub1}/", HOST_LITERAL),
        ("https://user@lp.example.com/", "must not contain user info (user@host)"),
        ("https:///path", "must have a literal host name"),
        ("https://lp.example.com/a b", NO_SPACES),
        ("https://lp.example.com\\@evil.com/", NO_SPACES),
        ("https://lp.example.com:99999/", "has an invalid port"),
    ],
)
def test_problems(text, message):
    assert message in problems(text)
    with pytest.raises(TemplateError):
        Template.parse(text)


@pytest.mark.parametrize(
    "text",
    [
        "https://lp.example.com/",
        "http://lp.example.com",
        "https://lp.example.com?cid={clickid}",
        "https://lp.example.com#{clickid}",
        "https://LP.Example.com:8443/{sub1}/{param:x.y}",
        "https://[2001:db8::1]/x?{ts}",
    ],
)
def test_good_templates_have_no_problems(text):
    assert problems(text) == []


def test_postback_macros_only_where_allowed():
    text = "https://pb.example.net/?p={payout}"
    assert problems(text) == ["unknown macro {payout}"]
    assert problems(text, POSTBACK_MACROS) == []


_TEMPLATES = st.sampled_from(
    [
        "https://lp.example.com/{sub1}",
        "https://lp.example.com/?u={param:u}",
        "https://lp.example.com?{sub1}={sub2}",
        "https://lp.example.com#{clickid}",
        "http://lp.example.com:8080/a/{country}/{city}?x={external_id}#{sub3}",
        "https://lp.example.com/{sub1}{sub2}{param:u}",
    ]
)
_HOSTILE = st.one_of(
    st.text(max_size=40),
    st.sampled_from(
        ["//evil.com", "@evil.com", ".evil.com", "\r\nLocation: https://evil.com",
         "%2F%2Fevil.com", "javascript:alert(1)", "../../", "\\\\evil.com", ":443@evil.com",
         "?#", "%0d%0a"]
    ),
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(_TEMPLATES, st.dictionaries(st.sampled_from(["sub1", "sub2", "sub3", "country", "city",
                                                     "external_id", "clickid", "param:u"]),
                                   _HOSTILE))
def test_rendered_url_keeps_scheme_and_host(text, values):
    template = Template.parse(text)
    rendered = template.render(values)
    original = urlsplit(text.replace("{", "").replace("}", ""))
    parts = urlsplit(rendered)
    assert (parts.scheme, parts.netloc) == (original.scheme, original.netloc)
    assert not any(ch in rendered for ch in "\r\n\t \\")
    # Every value survives intact once decoded: encoding loses nothing.
    for name, value in values.items():
        if name in template.macros and value:
            assert value in unquote(rendered)


@settings(max_examples=500)
@given(st.one_of(st.text(st.characters(blacklist_categories=("Cs",))),
                 st.text("AZaz09_.-~%/ +é", max_size=30)))
def test_values_quote_leaves_alone_are_not_quoted(value):
    # _encode skips `quote` for values made of unreserved characters only.
    assert _encode(value) == quote(value, safe="")


@given(st.lists(st.one_of(st.none(), _HOSTILE), min_size=3, max_size=3))
def test_fill_puts_each_value_in_its_slot(values):
    template = Template.parse("https://lp.example.com/{sub1}?a={clickid}&b={sub1}")
    assert template.macros == ("sub1", "clickid", "sub1")
    by_name = {"sub1": values[0], "clickid": values[1]}
    expected = template.render({k: v for k, v in by_name.items() if v is not None})
    assert template.fill([values[0], values[1], values[0]]) == expected
