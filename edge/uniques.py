"""Unique clicks, decided at the edge from the visitor's own cookie.

A click is unique when the visitor has no unique click on that campaign within the
campaign's unique window. The cookie `tu` remembers, per campaign, when the last unique
click was: `key:seconds` pairs (both base 36) joined by `.`, most recent first, at most
`MAX_ENTRIES`. The key is a 32-bit CRC of the campaign id, so the cookie stays small
whatever the ids look like; a collision only makes two campaigns share a window.
Bots, HEADs and lander clicks neither read nor write it (they are never unique), which
is what the reports and the simulator's ground truth count.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Final
from zlib import crc32

UNIQUE_COOKIE: Final = "tu"
MAX_ENTRIES: Final = 32
_MAX_COOKIE: Final = 1024
_KEY_CHARS: Final = frozenset("0123456789abcdefghijklmnopqrstuvwxyz")
_MAX_KEY: Final = 7  # a CRC-32 in base 36


@lru_cache(maxsize=65_536)
def campaign_key(campaign_id: str) -> str:
    return _base36(crc32(campaign_id.encode()))


def _base36(number: int) -> str:
    """`number` (>= 0) in lower-case base 36."""
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    text = ""
    while True:
        number, rest = divmod(number, 36)
        text = digits[rest] + text
        if not number:
            return text


# The current second in base 36: every unique click of a second writes the same stamp.
_stamp = lru_cache(maxsize=64)(_base36)


def _entries(value: str) -> list[tuple[str, int]]:
    entries: list[tuple[str, int]] = []
    if not value or len(value) > _MAX_COOKIE:
        return entries
    for part in value.split("."):
        key, sep, seconds = part.partition(":")
        # Only keys campaign_key could have written are kept (and so echoed back): quotes,
        # markup, attributes or non-ASCII in a tampered cookie never reach Set-Cookie.
        if not sep or not seconds or not 0 < len(key) <= _MAX_KEY or not _KEY_CHARS.issuperset(key):
            continue
        try:
            number = int(seconds, 36)
        except ValueError:
            continue  # a tampered or foreign value is ignored, never an error
        if number >= 0:  # int() takes a sign; "-5" is as foreign as "x!"
            entries.append((key, number))
    return entries


def check(value: str, key: str, now_ms: int, window_ms: int) -> tuple[bool, str | None]:
    """(is_unique, the new cookie value or None when it need not change)."""
    now_s = now_ms // 1000
    latest = key + ":" + _stamp(now_s)
    if not value:  # a first visit: nothing to read or keep
        return True, latest
    entries = _entries(value)
    for entry_key, seconds in entries:
        if entry_key == key:
            if (now_s - seconds) * 1000 < window_ms and seconds <= now_s:
                return False, None
            break
    kept = [entry for entry in entries if entry[0] != key][: MAX_ENTRIES - 1]
    return True, ".".join([latest, *[f"{k}:{_base36(s)}" for k, s in kept]])
