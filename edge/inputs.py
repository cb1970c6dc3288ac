"""Parsing what a request carries: query strings, cookies, Accept-Language, Referer.

Strict where it matters for safety (percent-encoding and UTF-8 must be valid, sizes are
bounded: a violation is a BadInput with a 4xx), cheap on the common path (values without
`%` or `+` are taken as they are).
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Final
from urllib.parse import unquote_to_bytes

from turnout.edge.errors import BadInput

MAX_PARAMS: Final = 64
MAX_NAME: Final = 64
MAX_VALUE: Final = 1024
_BAD_PERCENT = re.compile(rb"%(?![0-9A-Fa-f]{2})")
_LANGUAGE = re.compile(r"[a-z]{2,3}")


def _decode(raw: bytes) -> str:
    if b"+" in raw:
        raw = raw.replace(b"+", b" ")
    if b"%" in raw:
        if _BAD_PERCENT.search(raw):
            raise BadInput(400, "malformed percent-encoding in the query")
        raw = unquote_to_bytes(raw)
    try:
        return raw.decode()
    except UnicodeDecodeError:
        raise BadInput(400, "query is not valid UTF-8") from None


def parse_query(raw: bytes, max_bytes: int = 4096) -> dict[str, str]:
    """name -> value (the first occurrence wins). Raises BadInput for hostile input."""
    if not raw:
        return {}
    if len(raw) > max_bytes:
        raise BadInput(414, "query string too long")
    if raw.isascii():
        text = raw.decode("ascii")
        if "%" not in text and "+" not in text:  # str `in` is a memchr; bytes `in` is not
            pairs = text.split("&")
            if len(pairs) <= MAX_PARAMS:
                return _parse_ascii(pairs)
    parts = raw.split(b"&")
    if len(parts) > MAX_PARAMS:
        raise BadInput(400, "too many query parameters")
    # 37 and 43 are % and +: an int in bytes is a memchr too.
    return _parse_pairs(parts, 37 not in raw and 43 not in raw)


def _parse_pairs(pairs: list[bytes], plain: bool) -> dict[str, str]:
    params: dict[str, str] = {}
    for pair in pairs:
        name, _, value = pair.partition(b"=")
        if not name:
            continue
        if len(name) > MAX_NAME * 3 or len(value) > MAX_VALUE * 3:
            raise BadInput(400, "query parameter too long")
        if plain:  # the common case: nothing to unescape, only UTF-8 to check
            try:
                key, text = name.decode(), value.decode()
            except UnicodeDecodeError:
                raise BadInput(400, "query is not valid UTF-8") from None
        else:
            key, text = _decode(name), _decode(value)
        if len(key) > MAX_NAME or len(text) > MAX_VALUE:
            raise BadInput(400, "query parameter too long")
        if key and key not in params:
            params[key] = text
    return params


def _parse_ascii(pairs: list[str]) -> dict[str, str]:
    """The common case, decoded once: ASCII with nothing to unescape, so a name or value
    has as many characters as bytes and one length check each does."""
    params: dict[str, str] = {}
    for pair in pairs:
        name, _, value = pair.partition("=")
        if not name:
            continue
        if len(name) > MAX_NAME or len(value) > MAX_VALUE:
            raise BadInput(400, "query parameter too long")
        params.setdefault(name, value)  # the first occurrence wins
    return params


def cookie(header: str, name: str) -> str:
    """The value of cookie `name` in a Cookie header ("" when absent)."""
    if not header:
        return ""
    prefix = name + "="
    for part in header.split(";"):
        part = part.strip()
        if part.startswith(prefix):
            return part[len(prefix) :].strip('"')
    return ""


def _weight(value: str) -> int | None:
    """An RFC 9110 qvalue in thousandths ("0.8" -> 800), or None when malformed."""
    whole, _, fraction = value.partition(".")
    if len(fraction) > 3 or not (fraction == "" or (fraction.isascii() and fraction.isdigit())):
        return None
    if whole == "0":
        return int(fraction.ljust(3, "0"))
    if whole == "1" and fraction.strip("0") == "":
        return 1000
    return None


@lru_cache(maxsize=4096)
def primary_language(header: str) -> str:
    """The primary subtag of the most preferred language ("en" for "en-GB,en;q=0.8").

    `q=0` means "not acceptable", so such a language is never chosen; an item whose weight
    is malformed is skipped; of equal weights the first wins.
    """
    best, best_q = "", 0
    for item in header[:512].split(","):
        tag, *parameters = item.split(";")
        q: int | None = 1000
        for parameter in parameters:
            name, _, value = parameter.partition("=")
            if name.strip().lower() == "q":
                q = _weight(value.strip())
        if q is None or q <= best_q:
            continue
        primary = tag.strip().lower().split("-", 1)[0].split("_", 1)[0]
        if _LANGUAGE.fullmatch(primary):
            best, best_q = primary, q
    return best


def referrer_domain(referer: str) -> str:
    """The host of a Referer URL, lower case, without port or user info ("" if none)."""
    start = referer.find("://")
    if start < 0:
        return ""
    rest = referer[start + 3 : start + 3 + 300]
    for end_char in "/?#":
        cut = rest.find(end_char)
        if cut >= 0:
            rest = rest[:cut]
    host = rest.rpartition("@")[2]
    if host.startswith("["):
        return host[: host.find("]") + 1].lower()
    return host.partition(":")[0].lower().rstrip(".")
