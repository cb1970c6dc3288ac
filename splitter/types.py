"""The shapes the splitter works on. `config.compile` builds them; the edge reads them."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class ConditionKind(StrEnum):
    COUNTRY = "country"  # ISO-2 codes and group names (EU, ...)
    REGION = "region"  # "US-CA" style (country-subdivision) or bare subdivision code
    CITY = "city"  # city name, case-insensitive
    DEVICE = "device"  # desktop | mobile | tablet
    OS = "os"  # os family, case-insensitive ("iOS", "Android", "Windows", ...)
    BROWSER = "browser"  # browser family, case-insensitive
    LANGUAGE = "language"  # primary language subtag of Accept-Language ("en", "de")
    HOUR = "hour"  # hours of day 0..23 in the workspace timezone; "9-17" ranges allowed
    WEEKDAY = "weekday"  # mon..sun in the workspace timezone
    DATE_RANGE = "date_range"  # "YYYY-MM-DD..YYYY-MM-DD" inclusive, workspace timezone
    IP = "ip"  # CIDR blocks, IPv4 or IPv6
    ASN = "asn"  # autonomous system numbers
    REFERRER = "referrer"  # referrer domains; a value matches the domain and subdomains
    QUERY = "query"  # value of the query parameter named by `param`
    BOT = "bot"  # values ("true",) or ("false",)


@dataclass(frozen=True, slots=True)
class Condition:
    """One condition of a rule, as written in the graph (values are strings)."""

    kind: ConditionKind
    values: tuple[str, ...]
    negate: bool = False
    param: str = ""  # the query parameter name for QUERY


@dataclass(frozen=True, slots=True)
class Destination:
    """A weighted destination. `payload` is opaque to the splitter (the edge's URL etc.)."""

    id: str
    weight: int
    available: bool = True  # False when paused or capped: skipped by the choice
    payload: Any = None


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    conditions: tuple[Condition, ...]
    destinations: tuple[Destination, ...]


@dataclass(frozen=True, slots=True)
class Visitor:
    """What the edge knows about one request, already parsed and normalised.

    Strings are as the edge found them: country upper-case ISO-2, device one of
    desktop|mobile|tablet, language a lower-case primary subtag ("" when unknown).
    `ip` is the integer value of the address (`ipaddress.ip_address(...)`), with
    `ip_version` 4 or 6.
    """

    visitor_id: str
    country: str = ""
    region: str = ""
    city: str = ""
    device: str = ""
    os: str = ""
    browser: str = ""
    language: str = ""
    ip: int = 0
    ip_version: int = 4
    asn: int = 0
    referrer_domain: str = ""
    query: dict[str, str] = field(default_factory=dict)
    is_bot: bool = False


@dataclass(frozen=True, slots=True)
class Choice:
    rule_id: str
    destination: Destination
