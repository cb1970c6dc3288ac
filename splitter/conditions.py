"""Condition values: validated on write (`check`), parsed once into a `Test` for compiling.

A `Test` is data: the condition's kind, its values in the form they are compared in
(frozensets of country codes, case-folded names, ASNs; bitmasks of hours or weekdays;
day-number ranges; CIDR tuples) and the negation. Everything that can be done per
condition (case folding, group expansion, parsing ranges and CIDRs) is done here, once;
`splitter.index` turns the categorical and time tests of a campaign into rule bitmasks,
and `splitter.predicates` evaluates the rest.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from turnout.splitter.groups import GROUPS, ISO_COUNTRIES
from turnout.splitter.localtime import epoch_day
from turnout.splitter.types import Condition, ConditionKind

DEVICES = frozenset({"desktop", "mobile", "tablet"})
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_FULL_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_LANGUAGE = re.compile(r"[a-z]{2,3}(?:[-_][a-z0-9]{1,8})*")
_SUBDIVISION = re.compile(r"[A-Z0-9]{1,3}")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_LABEL = re.compile(r"(?!-)[a-z0-9_-]{1,63}(?<!-)")
_MAX_ASN = 2**32 - 1
K = ConditionKind

# The kinds decided by one visitor attribute's value (attribute name by kind); the values
# of FOLDED kinds compare case-insensitively (`str.casefold` on both sides).
CATEGORICAL: dict[ConditionKind, str] = {
    K.COUNTRY: "country",
    K.DEVICE: "device",
    K.LANGUAGE: "language",
    K.ASN: "asn",
    K.BOT: "is_bot",
    K.OS: "os",
    K.BROWSER: "browser",
    K.CITY: "city",
}
FOLDED = frozenset({K.OS, K.BROWSER, K.CITY})


@dataclass(frozen=True, slots=True)
class Test:
    """A parsed condition. `consts` by kind: one frozenset of accepted values for the
    categorical kinds (see `CATEGORICAL`; case-folded for `FOLDED` ones, booleans for BOT),
    one bitmask for HOUR (bit = hour) and WEEKDAY (bit = Monday 0 .. Sunday 6), a tuple of
    inclusive epoch-day ranges for DATE_RANGE, (IPv4 blocks, IPv6 blocks) of
    (network, netmask) for IP, (full "US-CA" codes, bare codes) for REGION, (exact domains,
    "."-prefixed suffixes) for REFERRER and (parameter name, values) for QUERY."""

    kind: ConditionKind
    consts: tuple[object, ...]
    negate: bool = False


Parsed = tuple[Test | None, list[str]]


def check(condition: Condition) -> list[str]:
    """Every problem with the condition's values, as short messages (empty when valid)."""
    return parse(condition)[1]


def parse(condition: Condition) -> Parsed:
    """The condition's test (None when it has problems) and its problems."""
    values = condition.values
    if isinstance(values, str) or not isinstance(values, tuple | list):
        return None, ["values must be a list of strings"]
    if not values:
        return None, ["values must not be empty"]
    if not all(isinstance(value, str) for value in values):
        return None, ["values must be strings"]
    try:
        parser = _PARSERS[ConditionKind(condition.kind)]
    except ValueError:
        return None, [f"unknown condition kind {condition.kind!r}"]
    test, problems = parser(tuple(value.strip() for value in values), condition.param)
    if condition.param and condition.kind != ConditionKind.QUERY:
        problems.append("param is only used by query conditions")
    if problems or test is None:
        return None, problems
    if condition.negate:
        test = Test(test.kind, test.consts, True)
    return test, problems


def _nonempty(values: tuple[str, ...], problems: list[str]) -> None:
    if any(not value for value in values):
        problems.append("values must not contain an empty string")


def _country(values: tuple[str, ...], param: str) -> Parsed:
    problems: list[str] = []
    _nonempty(values, problems)
    countries: set[str] = set()
    for value in filter(None, values):
        upper = value.upper()
        if upper in GROUPS:
            countries |= GROUPS[upper]
        elif upper in ISO_COUNTRIES:
            countries.add(upper)
        else:
            problems.append(f"unknown country code or group {value!r}")
    return Test(K.COUNTRY, (frozenset(countries),)), problems


def _region(values: tuple[str, ...], param: str) -> Parsed:
    problems: list[str] = []
    _nonempty(values, problems)
    full: set[str] = set()
    bare: set[str] = set()
    for value in filter(None, values):
        upper = value.upper()
        country, dash, subdivision = upper.rpartition("-")
        if not _SUBDIVISION.fullmatch(subdivision) or (dash and country not in ISO_COUNTRIES):
            problems.append(f"bad region {value!r} (expected like 'US-CA' or 'CA')")
        elif dash:
            full.add(upper)
        else:
            bare.add(upper)
    return Test(K.REGION, (frozenset(full), frozenset(bare))), problems


def _folded(kind: ConditionKind) -> Callable[[tuple[str, ...], str], Parsed]:
    def parse_folded(values: tuple[str, ...], param: str) -> Parsed:
        problems: list[str] = []
        _nonempty(values, problems)
        folded = frozenset(value.casefold() for value in values if value)
        return Test(kind, (folded,)), problems

    return parse_folded


def _device(values: tuple[str, ...], param: str) -> Parsed:
    problems: list[str] = []
    _nonempty(values, problems)
    devices = frozenset(value.lower() for value in values if value)
    problems += [f"unknown device {d!r} (desktop|mobile|tablet)" for d in sorted(devices - DEVICES)]
    return Test(K.DEVICE, (devices,)), problems


def _language(values: tuple[str, ...], param: str) -> Parsed:
    problems: list[str] = []
    _nonempty(values, problems)
    primaries: set[str] = set()
    for value in filter(None, values):
        lower = value.lower()
        if _LANGUAGE.fullmatch(lower):
            primaries.add(re.split("[-_]", lower, maxsplit=1)[0])
        else:
            problems.append(f"bad language tag {value!r} (expected like 'en' or 'en-US')")
    return Test(K.LANGUAGE, (frozenset(primaries),)), problems


def _hour(values: tuple[str, ...], param: str) -> Parsed:
    problems: list[str] = []
    _nonempty(values, problems)
    mask = 0
    for value in filter(None, values):
        hours = _span(value, _parse_hour, 24)
        if hours is None:
            problems.append(f"bad hour {value!r} (0-23, or a range like '9-17' or '22-3')")
        else:
            for hour in hours:
                mask |= 1 << hour
    return Test(K.HOUR, (mask,)), problems


def _weekday(values: tuple[str, ...], param: str) -> Parsed:
    problems: list[str] = []
    _nonempty(values, problems)
    mask = 0
    for value in filter(None, values):
        days = _span(value, _parse_weekday, 7)
        if days is None:
            problems.append(f"bad weekday {value!r} (mon..sun, or a range like 'mon-fri')")
        else:
            for day in days:
                mask |= 1 << day
    return Test(K.WEEKDAY, (mask,)), problems


def _date_range(values: tuple[str, ...], param: str) -> Parsed:
    problems: list[str] = []
    _nonempty(values, problems)
    ranges: list[tuple[int, int]] = []
    for value in filter(None, values):
        first, dots, last = value.partition("..")
        start, end = _parse_date(first), _parse_date(last if dots else first)
        if start is None or end is None:
            problems.append(f"bad date range {value!r} (expected 'YYYY-MM-DD..YYYY-MM-DD')")
        elif start > end:
            problems.append(f"date range {value!r} ends before it starts")
        else:
            ranges.append((epoch_day(start), epoch_day(end)))
    return Test(K.DATE_RANGE, (tuple(ranges),)), problems


def _ip(values: tuple[str, ...], param: str) -> Parsed:
    problems: list[str] = []
    _nonempty(values, problems)
    v4: list[tuple[int, int]] = []
    v6: list[tuple[int, int]] = []
    for value in filter(None, values):
        try:
            network = ipaddress.ip_network(value)
        except ValueError:
            problems.append(f"bad CIDR {value!r}")
            continue
        blocks = v4 if network.version == 4 else v6
        blocks.append((int(network.network_address), int(network.netmask)))
    return Test(K.IP, (tuple(v4), tuple(v6))), problems


def _asn(values: tuple[str, ...], param: str) -> Parsed:
    problems: list[str] = []
    _nonempty(values, problems)
    numbers: set[int] = set()
    for value in filter(None, values):
        digits = value[2:] if value[:2].upper() == "AS" else value
        if digits.isascii() and digits.isdigit() and int(digits) <= _MAX_ASN:
            numbers.add(int(digits))
        else:
            problems.append(f"ASN {value!r} is not an integer (like '13335' or 'AS13335')")
    return Test(K.ASN, (frozenset(numbers),)), problems


def _referrer(values: tuple[str, ...], param: str) -> Parsed:
    problems: list[str] = []
    _nonempty(values, problems)
    domains: set[str] = set()
    for value in filter(None, values):
        domain = _domain(value)
        if domain is None:
            problems.append(f"bad referrer domain {value!r} (expected like 'example.com')")
        else:
            domains.add(domain)
    suffixes = tuple(sorted("." + domain for domain in domains))
    return Test(K.REFERRER, (frozenset(domains), suffixes)), problems


def _query(values: tuple[str, ...], param: str) -> Parsed:
    # Query values match exactly as sent (case and all); an empty value is a legitimate
    # "present but empty" parameter, so only the parameter name is required.
    problems = [] if param else ["query conditions need a param (the parameter name)"]
    return Test(K.QUERY, (param, frozenset(values))), problems


def _bot(values: tuple[str, ...], param: str) -> Parsed:
    flags = {value.lower() for value in values}
    problems = [
        f"bot value {value!r} must be 'true' or 'false'"
        for value in values
        if value.lower() not in ("true", "false")
    ]
    accepted = frozenset(flag == "true" for flag in flags if flag in ("true", "false"))
    return Test(K.BOT, (accepted,)), problems


def _span(value: str, parse_one: Callable[[str], int | None], size: int) -> list[int] | None:
    """The members of 'a' or of the inclusive, possibly wrapping range 'a-b'."""
    first, dash, last = value.partition("-")
    start = parse_one(first.strip())
    end = parse_one(last.strip()) if dash else start
    if start is None or end is None:
        return None
    return [(start + step) % size for step in range((end - start) % size + 1)]


def _parse_hour(text: str) -> int | None:
    if text.isascii() and text.isdigit() and int(text) <= 23:
        return int(text)
    return None


def _parse_weekday(text: str) -> int | None:
    lower = text.lower()
    for names in (WEEKDAYS, _FULL_WEEKDAYS):
        if lower in names:
            return names.index(lower)
    return None


def _parse_date(text: str) -> date | None:
    text = text.strip()
    if not _DATE.fullmatch(text):
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def _domain(value: str) -> str | None:
    domain = value.lower().rstrip(".")
    if not domain.isascii():
        try:
            domain = domain.encode("idna").decode("ascii")
        except UnicodeError:
            return None
    labels = domain.split(".")
    if len(domain) > 253 or not all(_LABEL.fullmatch(label) for label in labels):
        return None
    return domain


_PARSERS: dict[ConditionKind, Callable[[tuple[str, ...], str], Parsed]] = {
    ConditionKind.COUNTRY: _country,
    ConditionKind.REGION: _region,
    ConditionKind.CITY: _folded(ConditionKind.CITY),
    ConditionKind.DEVICE: _device,
    ConditionKind.OS: _folded(ConditionKind.OS),
    ConditionKind.BROWSER: _folded(ConditionKind.BROWSER),
    ConditionKind.LANGUAGE: _language,
    ConditionKind.HOUR: _hour,
    ConditionKind.WEEKDAY: _weekday,
    ConditionKind.DATE_RANGE: _date_range,
    ConditionKind.IP: _ip,
    ConditionKind.ASN: _asn,
    ConditionKind.REFERRER: _referrer,
    ConditionKind.QUERY: _query,
    ConditionKind.BOT: _bot,
}
