"""Batch assembly: decoded events to column-oriented data for the insert contexts."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ingest import schema
from turnout.events import Click, Event

_EMPTY_SUBS = ("",) * 10
# Click fields stored under their own name; the rest are mapped in click_columns.
_SPECIAL = {"schema_version", "ts", *schema.SUBS}


def _subs(click: Click) -> Sequence[str]:
    subs = click.subs
    if len(subs) == 10:
        return subs
    return (*subs, *_EMPTY_SUBS)[:10] if subs else _EMPTY_SUBS


def click_columns(clicks: Sequence[Click]) -> list[list[Any]]:
    """One list per column of schema.CLICKS, in that order."""
    subs = [_subs(c) for c in clicks]
    columns: list[list[Any]] = []
    for name, _type in schema.CLICKS:
        if name == "schema_version":
            columns.append([c.v for c in clicks])
        elif name == "ts":
            columns.append([c.ts_ms for c in clicks])  # DateTime64(3) takes raw ms ticks
        elif name in _SPECIAL:
            index = int(name[3:]) - 1
            columns.append([s[index] for s in subs])
        else:
            columns.append([getattr(c, name) for c in clicks])
    return columns


def event_columns(events: Sequence[Event]) -> list[list[Any]]:
    columns: list[list[Any]] = []
    for name, _type in schema.EVENTS:
        if name == "schema_version":
            columns.append([e.v for e in events])
        elif name == "ts":
            columns.append([e.ts_ms for e in events])
        else:
            columns.append([getattr(e, name) for e in events])
    return columns


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
