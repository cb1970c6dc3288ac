"""A generated campaign graph and visitor stream for `benchmarks.splitter`."""

from __future__ import annotations

import random

from turnout.splitter import Condition, ConditionKind, Destination, Rule, Visitor

# Rough shares of real ad traffic, so country conditions match as often as they would.
COUNTRIES = (
    ["US"] * 20
    + ["GB"] * 6
    + ["DE"] * 6
    + ["FR"] * 5
    + ["BR"] * 6
    + ["IN"] * 8
    + ["RU"] * 4
    + ["CA", "AU", "NL", "ES", "IT", "MX", "PL", "ID", "PH", "TR", "JP", "KR", "SE", "NG"]
)
GROUP_NAMES = ["EU", "TIER1", "LATAM", "DACH", "NORDICS"]
DEVICES = ["desktop", "mobile", "mobile", "tablet"]
OSES = ["Windows", "Android", "iOS", "Mac OS X", "Linux"]
BROWSERS = ["Chrome", "Chrome Mobile", "Safari", "Mobile Safari", "Firefox", "Edge"]
LANGUAGES = ["en", "en", "de", "fr", "es", "pt", "ru", "it", "ja"]
TIMEZONES = ["UTC", "Europe/Berlin", "America/New_York", "Asia/Tokyo"]


def condition(rng: random.Random) -> Condition:
    kind = rng.choice(
        ["country", "country", "device", "hour", "os", "language", "browser", "weekday"]
    )
    negate = rng.random() < 0.1
    if kind == "country":
        pool = COUNTRIES + GROUP_NAMES
        values = tuple({rng.choice(pool) for _ in range(rng.randint(1, 5))})
        return Condition(ConditionKind.COUNTRY, values, negate)
    if kind == "device":
        return Condition(ConditionKind.DEVICE, tuple(set(rng.sample(DEVICES, 2))), negate)
    if kind == "hour":
        start = rng.randrange(24)
        return Condition(ConditionKind.HOUR, (f"{start}-{(start + rng.randint(4, 16)) % 24}",))
    if kind == "weekday":
        return Condition(
            ConditionKind.WEEKDAY, ("mon-fri",) if rng.random() < 0.5 else ("sat", "sun")
        )
    if kind == "os":
        return Condition(ConditionKind.OS, tuple(rng.sample(OSES, 2)), negate)
    if kind == "browser":
        return Condition(ConditionKind.BROWSER, tuple(rng.sample(BROWSERS, 2)), negate)
    return Condition(ConditionKind.LANGUAGE, tuple(rng.sample(LANGUAGES, 3)), negate)


def destinations(rng: random.Random, rule_id: str, count: int) -> tuple[Destination, ...]:
    return tuple(
        Destination(f"{rule_id}-d{i}", rng.randint(1, 100), payload=f"https://lp{i}.example/")
        for i in range(count)
    )


def campaign(
    rng: random.Random, rules: int, conditions: int, dests: int
) -> tuple[list[Rule], Rule]:
    body = [
        Rule(
            f"r{r}",
            tuple(condition(rng) for _ in range(conditions)),
            destinations(rng, f"r{r}", dests),
        )
        for r in range(rules)
    ]
    return body, Rule("default", (), destinations(rng, "default", dests))


def visitors(rng: random.Random, count: int) -> list[Visitor]:
    return [
        Visitor(
            visitor_id=f"v{i}",
            country=rng.choice(COUNTRIES),
            device=rng.choice(DEVICES),
            os=rng.choice(OSES),
            browser=rng.choice(BROWSERS),
            language=rng.choice(LANGUAGES),
            ip=rng.getrandbits(32),
        )
        for i in range(count)
    ]
