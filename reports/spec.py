"""ReportSpec: a validated report request, and the parsers every door (API, CLI) shares.

Parsing collects every problem before failing, so a request with three mistakes gets three
reasons in one 400. Times: `from`/`to` are workspace-local; a date-only `to` includes that
whole day, a `to` with a time is exclusive; an explicit UTC offset wins over the zone.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from turnout.config.values import CURRENCIES
from turnout.events import CONVERSION_STATUSES
from turnout.reports.dimensions import DIMENSIONS
from turnout.reports.errors import ParameterError
from turnout.reports.metrics import DEFAULT_METRICS, METRICS

DEFAULT_DAYS: Final = 30
DEFAULT_LIMIT: Final = 1000
MAX_LIMIT: Final = 100_000
MAX_FILTER_VALUES: Final = 1000
FilterValue = str | int | dt.date


@dataclass(frozen=True, slots=True)
class Sort:
    name: str
    descending: bool = True


@dataclass(frozen=True, slots=True)
class ReportSpec:
    workspace: str
    group_by: tuple[str, ...] = ()
    metrics: tuple[str, ...] = DEFAULT_METRICS
    filters: tuple[tuple[str, tuple[FilterValue, ...]], ...] = ()
    start: dt.datetime | None = None  # UTC, inclusive
    end: dt.datetime | None = None  # UTC, exclusive
    tz: str = "UTC"
    currency: str = ""  # the workspace's: payouts are converted into it (reports/fx.py)
    statuses: tuple[str, ...] = ("approved",)
    sort: tuple[Sort, ...] = ()
    limit: int = DEFAULT_LIMIT
    offset: int = 0
    include_bots: bool = False
    rollup: bool = False  # count child campaigns under their parent
    force_raw: bool = False  # read raw clicks even where a click rollup would serve


def split_list(raw: str | Sequence[str] | None) -> tuple[str, ...]:
    if raw is None:
        return ()
    parts = [raw] if isinstance(raw, str) else list(raw)
    return tuple(p.strip() for part in parts for p in part.split(",") if p.strip())


def check_zone(tz: str, problems: list[str]) -> str:
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        problems.append(f"tz: unknown time zone {tz!r}")
        return "UTC"
    return tz


# What ClickHouse's DateTime64 holds; a bound outside is a bad parameter, not a crash.
_FIRST_YEAR, _LAST_YEAR = 1900, 2299
MAX_OFFSET = 1_000_000_000  # rows skipped at most (a UInt64 parameter in the query)


def _instant(text: str, zone: ZoneInfo, end: bool) -> dt.datetime:
    """The UTC instant of a local `from`/`to`; ValueError when it is not one, or outside
    the years ClickHouse stores."""
    if not text[:4].isdigit() or not _FIRST_YEAR <= int(text[:4]) <= _LAST_YEAR - 1:
        raise ValueError(text)
    if len(text) == 10:
        day = dt.date.fromisoformat(text)
        local = dt.datetime.combine(day + dt.timedelta(days=1 if end else 0), dt.time(), zone)
    else:
        local = dt.datetime.fromisoformat(text)
        if local.tzinfo is None:
            local = local.replace(tzinfo=zone)
    return local.astimezone(dt.UTC)


def parse_range(start: str | None, end: str | None, tz: str, problems: list[str],
                today: dt.date | None = None) -> tuple[dt.datetime | None, dt.datetime | None]:
    """Local `from`/`to` to a UTC [start, end); the last DEFAULT_DAYS days when neither is set.

    `from=all` asks for all time (no lower bound)."""
    zone = ZoneInfo(tz)
    if today is None:
        today = dt.datetime.now(zone).date()
    if start is None and end is None:
        start = (today - dt.timedelta(days=DEFAULT_DAYS - 1)).isoformat()
    bounds: list[dt.datetime | None] = []
    for name, text, is_end in (("from", start, False), ("to", end, True)):
        if text is None or text == "all":
            bounds.append(None)
            continue
        try:
            bounds.append(_instant(text.strip(), zone, is_end))
        except ValueError:
            problems.append(f"{name}: expected YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS] between "
                            f"{_FIRST_YEAR} and {_LAST_YEAR - 1}, got {text!r}")
            bounds.append(None)
    first, last = bounds
    if first is not None and last is not None and first >= last:
        problems.append("from: must be before to")
    return first, last


def _typed(param_type: str, value: str) -> FilterValue:
    if param_type.startswith("UInt"):
        number = int(value)
        if number < 0:
            raise ValueError(value)
        return number
    if param_type == "Date":
        return dt.date.fromisoformat(value)
    return value


def parse_filters(raw: Mapping[str, Sequence[str]], problems: list[str]
                  ) -> tuple[tuple[str, tuple[FilterValue, ...]], ...]:
    """`{"country": ["US,GB"]}` -> `(("country", ("US", "GB")),)`, typed per dimension."""
    parsed = []
    for name, values in sorted(raw.items()):
        dimension = DIMENSIONS.get(name)
        if dimension is None:
            problems.append(f"filter {name!r}: unknown dimension")
            continue
        items = split_list(values)
        if not items or len(items) > MAX_FILTER_VALUES:
            problems.append(f"filter {name}: give 1 to {MAX_FILTER_VALUES} values")
            continue
        try:
            parsed.append((name, tuple(_typed(dimension.param_type, v) for v in items)))
        except ValueError:
            problems.append(f"filter {name}: values must be {dimension.param_type}")
    return tuple(parsed)


def parse_sort(raw: str | Sequence[str] | None, problems: list[str]) -> tuple[Sort, ...]:
    """`-roi,country` or `roi:desc,country:asc`; a bare name sorts descending for metrics and
    ascending for dimensions."""
    sorts = []
    for item in split_list(raw):
        name, _, direction = item.partition(":")
        descending: bool | None = None
        if name.startswith("-"):
            name, descending = name[1:], True
        elif name.startswith("+"):
            name, descending = name[1:], False
        if direction:
            if direction not in ("asc", "desc"):
                problems.append(f"sort {item!r}: direction must be asc or desc")
                continue
            descending = direction == "desc"
        if name not in METRICS and name not in DIMENSIONS:
            problems.append(f"sort {name!r}: unknown metric or dimension")
            continue
        sorts.append(Sort(name, name in METRICS if descending is None else descending))
    return tuple(sorts)


def _names(kind: str, names: Iterable[str], known: Mapping[str, object],
           problems: list[str]) -> tuple[str, ...]:
    out: list[str] = []
    for name in names:
        if name not in known:
            problems.append(f"{kind} {name!r}: unknown (one of: {', '.join(known)})")
        elif name not in out:
            out.append(name)
    return tuple(out)


def build_spec(*, workspace: str, group_by: str | Sequence[str] | None = None,
               metrics: str | Sequence[str] | None = None,
               filters: Mapping[str, Sequence[str]] | None = None,
               start: str | None = None, end: str | None = None, tz: str = "UTC",
               currency: str = "", statuses: str | Sequence[str] | None = None,
               sort: str | Sequence[str] | None = None, limit: int | str | None = None,
               offset: int | str | None = None, include_bots: bool = False,
               rollup: bool = False, force_raw: bool = False,
               today: dt.date | None = None) -> ReportSpec:
    """Validate raw request values into a ReportSpec; raises ParameterError with every problem."""
    problems: list[str] = []
    if not workspace:
        problems.append("workspace: required")
    tz = check_zone(tz, problems)
    if currency and currency not in CURRENCIES:
        problems.append(f"currency: {currency!r} is not an ISO 4217 currency code")
    groups = _names("group_by", split_list(group_by), DIMENSIONS, problems)
    wanted = split_list(metrics) or DEFAULT_METRICS
    chosen = _names("metric", wanted, METRICS, problems)
    status_list = split_list(statuses) or ("approved",)
    for status in status_list:
        if status not in CONVERSION_STATUSES:
            problems.append(f"statuses: {status!r} is not one of {', '.join(CONVERSION_STATUSES)}")
    sorts = parse_sort(sort, problems)
    for s in sorts:
        if s.name in DIMENSIONS and s.name not in groups:
            problems.append(f"sort {s.name!r}: sort by a dimension you group by")
        elif s.name in METRICS and s.name not in chosen:
            chosen = (*chosen, s.name)
    first, last = parse_range(start, end, tz, problems, today)
    numbers = {}
    for name, value, default, top in (("limit", limit, DEFAULT_LIMIT, MAX_LIMIT),
                                      ("offset", offset, 0, MAX_OFFSET)):
        try:
            numbers[name] = default if value in (None, "") else int(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            problems.append(f"{name}: expected an integer, got {value!r}")
            numbers[name] = default
            continue
        if numbers[name] < (1 if name == "limit" else 0) or (top and numbers[name] > top):
            problems.append(f"{name}: out of range (limit 1..{MAX_LIMIT}, offset "
                            f"0..{MAX_OFFSET})")
    parsed_filters = parse_filters(filters or {}, problems)
    if problems:
        raise ParameterError("; ".join(problems))
    return ReportSpec(workspace=workspace, group_by=groups, metrics=chosen,
                      filters=parsed_filters, start=first, end=last, tz=tz,
                      currency=currency,
                      statuses=tuple(dict.fromkeys(status_list)), sort=sorts,
                      limit=numbers["limit"], offset=numbers["offset"],
                      include_bots=include_bots, rollup=rollup, force_raw=force_raw)


def truthy(raw: str | None, name: str) -> bool:
    """A boolean query parameter as the OpenAPI document states it: absent is false,
    otherwise exactly `true` or `false` (an empty value, `1` or `yes` is a 400: a document
    that says boolean and an API that reads more would disagree)."""
    if raw is None:
        return False
    if raw in ("true", "false"):
        return raw == "true"
    raise ParameterError(f"{name}: expected true or false, got {raw!r}")
