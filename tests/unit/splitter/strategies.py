"""Hypothesis strategies for random campaigns and visitors, shared by the splitter tests."""

from __future__ import annotations

import ipaddress

from hypothesis import strategies as st

from turnout.splitter import Condition, ConditionKind, Destination, Rule, Visitor

K = ConditionKind
NOW = 1_718_000_000_000  # 2024-06-10, a Monday
ZONES = ["UTC", "Asia/Kolkata", "America/New_York", "Australia/Lord_Howe", "Asia/Kathmandu"]

VALUES: dict[ConditionKind, list[str]] = {
    K.COUNTRY: ["US", "de", "GB", "RU", "EU", "TIER1", "dach", "XK"],
    K.DEVICE: ["desktop", "Mobile", "tablet"],
    K.OS: ["iOS", "android", "Windows", "MAC OS X"],
    K.BROWSER: ["Chrome", "chrome mobile", "Safari", "Ünïcode"],
    K.LANGUAGE: ["en", "de-DE", "fr", "pt_BR"],
    K.CITY: ["Berlin", "SÃO PAULO", "straße"],
    K.ASN: ["13335", "AS15169", "1"],
    K.HOUR: ["0", "9-17", "22-3", "5", "12-12"],
    K.WEEKDAY: ["mon-fri", "sat", "sun-tue", "Wednesday"],
    K.REGION: ["US-CA", "ca", "DE-BE", "ENG"],
    K.DATE_RANGE: ["2024-06-01..2024-06-30", "2024-06-10", "2025-01-01..2025-12-31"],
    K.IP: ["10.0.0.0/8", "192.168.1.7", "2001:db8::/32"],
    K.REFERRER: ["example.com", "news.example.org"],
}


@st.composite
def conditions(draw: st.DrawFn) -> Condition:
    kind = draw(st.sampled_from([*VALUES, K.BOT, K.QUERY]))
    negate = draw(st.booleans())
    if kind == K.BOT:
        values = draw(st.sampled_from([("true",), ("false",), ("true", "false")]))
        return Condition(kind, values, negate)
    if kind == K.QUERY:
        values = tuple(draw(st.lists(st.sampled_from(["fb", "ig", ""]), min_size=1, max_size=2)))
        return Condition(kind, values, negate, param="src")
    values = draw(st.lists(st.sampled_from(VALUES[kind]), min_size=1, max_size=3))
    return Condition(kind, tuple(values), negate)


@st.composite
def rules(draw: st.DrawFn, rule_id: str) -> Rule:
    dests = draw(
        st.lists(
            st.tuples(st.integers(min_value=0, max_value=3), st.booleans()),
            min_size=1,
            max_size=3,
        )
    )
    return Rule(
        rule_id,
        tuple(draw(st.lists(conditions(), max_size=3))),
        tuple(
            Destination(f"{rule_id}-d{i}", weight, available=available or i > 0)
            for i, (weight, available) in enumerate(dests)
        ),
    )


@st.composite
def campaigns(draw: st.DrawFn) -> tuple[list[Rule], Rule]:
    count = draw(st.integers(min_value=0, max_value=11))  # past 8 rules the masks widen
    body = [draw(rules(f"r{i}")) for i in range(count)]
    return body, draw(rules("default"))


def addresses() -> st.SearchStrategy[str]:
    return st.sampled_from(["10.1.2.3", "192.168.1.7", "8.8.8.8", "2001:db8::1", "::1"])


@st.composite
def visitors(draw: st.DrawFn) -> Visitor:
    address = ipaddress.ip_address(draw(addresses()))
    return Visitor(
        visitor_id=draw(st.text(max_size=8)),
        country=draw(st.sampled_from(["US", "DE", "GB", "RU", "FR", "XK", "", "us"])),
        region=draw(st.sampled_from(["US-CA", "CA", "DE-BE", "GB-ENG", "", "BE"])),
        city=draw(st.sampled_from(["Berlin", "BERLIN", "São Paulo", "Strasse", "Paris", ""])),
        device=draw(st.sampled_from(["desktop", "mobile", "tablet", "", "Mobile"])),
        os=draw(st.sampled_from(["iOS", "IOS", "Android", "Windows", "Mac OS X", "Linux", ""])),
        browser=draw(st.sampled_from(["Chrome", "Chrome Mobile", "SAFARI", "ÜNÏCODE", "Edge"])),
        language=draw(st.sampled_from(["en", "de", "fr", "pt", "", "EN"])),
        ip=int(address),
        ip_version=address.version,
        asn=draw(st.sampled_from([0, 1, 13335, 15169, 64512])),
        referrer_domain=draw(st.sampled_from(["example.com", "m.example.com", "x.org", ""])),
        query=draw(st.sampled_from([{}, {"src": "fb"}, {"src": ""}, {"src": "FB"}])),
        is_bot=draw(st.booleans()),
    )
