"""Batch assembly: decoded events to column-oriented data for the insert contexts."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from operator import attrgetter, itemgetter
from typing import Any, Final

from ingest import schema
from turnout.events import Click, Event

_EMPTY_SUBS = ("",) * 10
# Struct fields stored under another column name.
_RENAMED = {"schema_version": "v", "ts": "ts_ms"}  # DateTime64(3) takes raw ms ticks


def _getters(columns: Sequence[tuple[str, str]]) -> tuple[Callable[[Any], Any], ...]:
    """One getter per column; those of sub1..sub10 index the padded subs of a click."""
    getters: list[Callable[[Any], Any]] = []
    for name, _type in columns:
        if name in schema.SUBS:
            getters.append(itemgetter(int(name[3:]) - 1))
        else:
            getters.append(attrgetter(_RENAMED.get(name, name)))
    return tuple(getters)


# attrgetter/itemgetter run in C: building the columns costs a fraction of a row loop.
_CLICK_GETTERS: Final = _getters(schema.CLICKS)
_EVENT_GETTERS: Final = _getters(schema.EVENTS)
_SUB_COLUMNS: Final = frozenset(
    index for index, (name, _type) in enumerate(schema.CLICKS) if name in schema.SUBS
)


def _subs(click: Click) -> Sequence[str]:
    subs = click.subs
    if len(subs) == 10:
        return subs
    return (*subs, *_EMPTY_SUBS)[:10] if subs else _EMPTY_SUBS


def click_columns(clicks: Sequence[Click]) -> list[list[Any]]:
    """One list per column of schema.CLICKS, in that order."""
    subs = [_subs(c) for c in clicks]
    return [
        list(map(get, subs if index in _SUB_COLUMNS else clicks))
        for index, get in enumerate(_CLICK_GETTERS)
    ]


def event_columns(events: Sequence[Event]) -> list[list[Any]]:
    return [list(map(get, events)) for get in _EVENT_GETTERS]


def dict_columns(
    rows: Sequence[Mapping[str, Any]], columns: Sequence[tuple[str, str]]
) -> list[list[Any]]:
    """Column data from row dicts that carry every column of `columns`."""
    return [[row[name] for row in rows] for name, _type in columns]


def first_per_key(items: Iterable[Click]) -> list[Click]:
    """Drop repeats of a click id within a batch, keeping the first seen."""
    seen: set[str] = set()
    kept = []
    for item in items:
        if item.click_id not in seen:
            seen.add(item.click_id)
            kept.append(item)
    return kept
