from __future__ import annotations

import ipaddress
from datetime import UTC, datetime

import pytest

from turnout.splitter import (
    Condition,
    ConditionKind,
    SplitterError,
    Visitor,
    check,
    compile_condition,
    compile_conditions,
)

K = ConditionKind


def ms(*args: int) -> int:
    return int(datetime(*args, tzinfo=UTC).timestamp() * 1000)


def matches(
    kind: ConditionKind, values: tuple[str, ...], visitor: Visitor, t: int = 0, param: str = ""
) -> bool:
    plain = compile_condition(Condition(kind, values, param=param))(visitor, t)
    negated = compile_condition(Condition(kind, values, negate=True, param=param))(visitor, t)
    assert plain is (not negated)
    return plain


def ip(text: str) -> Visitor:
    address = ipaddress.ip_address(text)
    return Visitor("v", ip=int(address), ip_version=address.version)


def test_country_codes_and_groups():
    de = Visitor("v", country="DE")
    assert matches(K.COUNTRY, ("DE",), de)
    assert matches(K.COUNTRY, ("us", "de"), de)
    assert matches(K.COUNTRY, ("EU",), de)
    assert matches(K.COUNTRY, ("dach",), de)
    assert not matches(K.COUNTRY, ("EU",), Visitor("v", country="GB"))
    assert not matches(K.COUNTRY, ("US",), Visitor("v"))  # unknown country


def test_region_full_and_bare():
    ca = Visitor("v", country="US", region="CA")
    assert matches(K.REGION, ("US-CA",), ca)
    assert matches(K.REGION, ("ca",), ca)
    assert not matches(K.REGION, ("CA-CA",), ca)  # not Canada's CA
    assert not matches(K.REGION, ("US-CA",), Visitor("v", country="US", region="NY"))
    assert matches(K.REGION, ("US-CA",), Visitor("v", country="US", region="US-CA"))
    assert matches(K.REGION, ("CA",), Visitor("v", country="US", region="US-CA"))
    assert not matches(K.REGION, ("CA",), Visitor("v", country="US"))


@pytest.mark.parametrize(
    ("kind", "attribute", "value"),
    [(K.CITY, "city", "São Paulo"), (K.OS, "os", "iOS"), (K.BROWSER, "browser", "Chrome Mobile")],
)
def test_case_insensitive_names(kind, attribute, value):
    visitor = Visitor("v", **{attribute: value})
    assert matches(kind, (value.upper(),), visitor)
    assert matches(kind, (value.lower(), "other"), visitor)
    assert not matches(kind, ("other",), visitor)
    assert not matches(kind, (value,), Visitor("v"))


def test_device():
    assert matches(K.DEVICE, ("Mobile", "tablet"), Visitor("v", device="mobile"))
    assert not matches(K.DEVICE, ("desktop",), Visitor("v", device="mobile"))


def test_language_primary_subtag():
    assert matches(K.LANGUAGE, ("en-US",), Visitor("v", language="en"))
    assert matches(K.LANGUAGE, ("pt_BR", "DE"), Visitor("v", language="de"))
    assert not matches(K.LANGUAGE, ("en",), Visitor("v", language="fr"))
    assert not matches(K.LANGUAGE, ("en",), Visitor("v"))


def test_hours_single_range_and_wrapping():
    v = Visitor("v")
    at = {hour: ms(2024, 6, 10, hour, 30) for hour in range(24)}
    business = {h for h in range(24) if matches(K.HOUR, ("9-17",), v, at[h])}
    assert business == set(range(9, 18))
    night = {h for h in range(24) if matches(K.HOUR, ("22-3",), v, at[h])}
    assert night == {22, 23, 0, 1, 2, 3}
    mixed = {h for h in range(24) if matches(K.HOUR, ("5", "7-8"), v, at[h])}
    assert mixed == {5, 7, 8}
    assert {h for h in range(24) if matches(K.HOUR, ("0-23",), v, at[h])} == set(range(24))


def test_weekdays():
    v = Visitor("v")
    days = {ms(2024, 6, 10 + d, 12): d for d in range(7)}  # Monday 10 June .. Sunday 16
    weekdays = {d for t, d in days.items() if matches(K.WEEKDAY, ("mon-fri",), v, t)}
    assert weekdays == {0, 1, 2, 3, 4}
    weekend = {d for t, d in days.items() if matches(K.WEEKDAY, ("Saturday", "SUN"), v, t)}
    assert weekend == {5, 6}
    wrapped = {d for t, d in days.items() if matches(K.WEEKDAY, ("fri-mon",), v, t)}
    assert wrapped == {4, 5, 6, 0}


def test_date_ranges_inclusive():
    v = Visitor("v")
    june = ("2024-06-01..2024-06-30",)
    assert matches(K.DATE_RANGE, june, v, ms(2024, 6, 1, 0, 0))
    assert matches(K.DATE_RANGE, june, v, ms(2024, 6, 30, 23, 59))
    assert not matches(K.DATE_RANGE, june, v, ms(2024, 7, 1, 0, 0))
    assert not matches(K.DATE_RANGE, june, v, ms(2024, 5, 31, 23, 59))
    two = ("2024-01-01..2024-01-02", "2024-12-25")
    assert matches(K.DATE_RANGE, two, v, ms(2024, 12, 25, 8))
    assert matches(K.DATE_RANGE, two, v, ms(2024, 1, 2, 8))
    assert not matches(K.DATE_RANGE, two, v, ms(2024, 1, 3, 8))


def test_ip_cidrs_v4_and_v6():
    blocks = ("10.0.0.0/8", "192.168.1.7", "2a02:d0c0::/32")
    assert matches(K.IP, blocks, ip("10.200.3.4"))
    assert matches(K.IP, blocks, ip("192.168.1.7"))
    assert not matches(K.IP, blocks, ip("192.168.1.8"))
    assert matches(K.IP, blocks, ip("2a02:d0c0::1"))
    assert not matches(K.IP, blocks, ip("2a02:d180::1"))
    # an IPv4 address whose integer equals an IPv6 block's bits must not match it
    assert not matches(K.IP, ("::/96",), ip("10.0.0.1"))


def test_asn():
    assert matches(K.ASN, ("13335", "AS15169"), Visitor("v", asn=15169))
    assert not matches(K.ASN, ("13335",), Visitor("v", asn=0))


def test_referrer_domain_and_subdomains():
    assert matches(K.REFERRER, ("example.com",), Visitor("v", referrer_domain="example.com"))
    assert matches(K.REFERRER, ("Example.COM.",), Visitor("v", referrer_domain="m.example.com"))
    assert not matches(K.REFERRER, ("example.com",), Visitor("v", referrer_domain="badexample.com"))
    assert not matches(K.REFERRER, ("example.com",), Visitor("v", referrer_domain="example.co"))
    assert not matches(K.REFERRER, ("example.com",), Visitor("v"))


def test_query_parameter():
    visitor = Visitor("v", query={"utm_source": "fb", "empty": ""})
    assert matches(K.QUERY, ("fb", "ig"), visitor, param="utm_source")
    assert not matches(K.QUERY, ("FB",), visitor, param="utm_source")  # values are exact
    assert not matches(K.QUERY, ("fb",), visitor, param="missing")
    assert matches(K.QUERY, ("",), visitor, param="empty")


def test_bot():
    assert matches(K.BOT, ("true",), Visitor("v", is_bot=True))
    assert not matches(K.BOT, ("TRUE",), Visitor("v"))
    assert matches(K.BOT, ("false",), Visitor("v"))
    assert matches(K.BOT, ("true", "false"), Visitor("v"))


def test_all_conditions_of_a_rule_must_match():
    predicate = compile_conditions(
        [Condition(K.COUNTRY, ("US",)), Condition(K.DEVICE, ("mobile",), negate=True)]
    )
    assert predicate is not None
    assert predicate(Visitor("v", country="US", device="desktop"), 0)
    assert not predicate(Visitor("v", country="US", device="mobile"), 0)
    assert not predicate(Visitor("v", country="DE", device="desktop"), 0)
    assert compile_conditions([]) is None


def test_values_never_become_code():
    hostile = "x') or True or ('"
    predicate = compile_condition(Condition(K.QUERY, (hostile,), param="a' + b"))
    assert not predicate(Visitor("v", query={"a": "x"}), 0)
    assert predicate(Visitor("v", query={"a' + b": hostile}), 0)


@pytest.mark.parametrize(
    ("condition", "needle"),
    [
        (Condition(K.COUNTRY, ("XX",)), "unknown country code or group 'XX'"),
        (Condition(K.COUNTRY, ("EUROPE",)), "unknown country"),
        (Condition(K.COUNTRY, ()), "must not be empty"),
        (Condition(K.COUNTRY, ("US", "")), "empty string"),
        (Condition(K.REGION, ("USA-CA",)), "bad region"),
        (Condition(K.REGION, ("US-CALIF",)), "bad region"),
        (Condition(K.DEVICE, ("phone",)), "unknown device 'phone'"),
        (Condition(K.LANGUAGE, ("english",)), "bad language tag"),
        (Condition(K.HOUR, ("24",)), "bad hour '24'"),
        (Condition(K.HOUR, ("-1",)), "bad hour"),
        (Condition(K.HOUR, ("9-",)), "bad hour"),
        (Condition(K.HOUR, ("9-17-20",)), "bad hour"),
        (Condition(K.HOUR, ("nine",)), "bad hour"),
        (Condition(K.WEEKDAY, ("funday",)), "bad weekday 'funday'"),
        (Condition(K.WEEKDAY, ("mon-",)), "bad weekday"),
        (Condition(K.DATE_RANGE, ("2024-02-30..2024-03-01",)), "bad date range"),
        (Condition(K.DATE_RANGE, ("2024-01-01..",)), "bad date range"),
        (Condition(K.DATE_RANGE, ("20240101..20240102",)), "bad date range"),
        (Condition(K.DATE_RANGE, ("2024-03-01..2024-02-01",)), "ends before it starts"),
        (Condition(K.IP, ("10.0.0.0/33",)), "bad CIDR"),
        (Condition(K.IP, ("10.0.0.1/8",)), "bad CIDR"),  # host bits set: a likely typo
        (Condition(K.IP, ("example.com",)), "bad CIDR"),
        (Condition(K.ASN, ("AS-13335",)), "not an integer"),
        (Condition(K.ASN, ("1.5",)), "not an integer"),
        (Condition(K.ASN, (str(2**32),)), "not an integer"),
        (Condition(K.REFERRER, ("https://example.com/x",)), "bad referrer domain"),
        (Condition(K.REFERRER, ("*.example.com",)), "bad referrer domain"),
        (Condition(K.QUERY, ("x",)), "need a param"),
        (Condition(K.BOT, ("yes",)), "bot value 'yes'"),
        (Condition(K.COUNTRY, ("US",), param="x"), "param is only used by query"),
        (Condition(K.COUNTRY, "US"), "must be a list"),  # type: ignore[arg-type]
        (Condition(K.COUNTRY, (1,)), "must be strings"),  # type: ignore[arg-type]
        (Condition("planet", ("earth",)), "unknown condition kind"),  # type: ignore[arg-type]
    ],
)
def test_check_reports_bad_values(condition, needle):
    problems = check(condition)
    assert any(needle in problem for problem in problems), problems
    with pytest.raises(SplitterError):
        compile_condition(condition)


def test_check_reports_every_problem_at_once():
    problems = check(Condition(K.HOUR, ("25", "x", "9-17", "")))
    assert len(problems) == 3


@pytest.mark.parametrize(
    "condition",
    [
        Condition(K.COUNTRY, ("US", "eu", "XK")),
        Condition(K.REGION, ("US-CA", "ENG", "gb-sct")),
        Condition(K.CITY, ("Berlin",)),
        Condition(K.DEVICE, ("desktop", "mobile", "tablet")),
        Condition(K.LANGUAGE, ("en", "zh-Hant-TW", "fil")),
        Condition(K.HOUR, ("0", "23", "22-3", " 9 - 17 ")),
        Condition(K.WEEKDAY, ("mon", "Tuesday", "sat-sun")),
        Condition(K.DATE_RANGE, ("2024-02-29..2024-02-29", "2025-01-01")),
        Condition(K.IP, ("10.0.0.0/8", "::1", "2001:db8::/32")),
        Condition(K.ASN, ("13335", "as15169")),
        Condition(K.REFERRER, ("example.com", "bücher.de", "localhost")),
        Condition(K.QUERY, ("a", ""), param="utm_source"),
        Condition(K.BOT, ("false",), negate=True),
    ],
)
def test_check_accepts_good_values(condition):
    assert check(condition) == []
    compile_condition(condition)
