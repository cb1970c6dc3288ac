"""URL templates: parsed once at compile time, rendered on the hot path.

A template is literal text with `{macro}` slots. Every substituted value is
percent-encoded with nothing left safe, so a value can never add a `/`, `?`, `#`, `@`
or `:` to the URL; together with the rule that scheme and host are literal (checked by
`problems`), that is what keeps the edge from ever being an open redirect.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Final
from urllib.parse import quote, urlsplit

from turnout.events import SUB_NAMES

SUBS: Final = SUB_NAMES

MACROS: Final = frozenset(
    {
        "clickid",
        "campaign_id",
        "campaign_code",
        "offer_id",
        "lander_id",
        "country",
        "region",
        "city",
        "device",
        "os",
        "browser",
        "language",
        "external_id",
        "cost",
        "visitor_id",
        "ts",
        "lp_cid",  # in a lander URL: the signed cid that lets /click work without cookies
        *SUBS,
    }
)
# A traffic source's postback also reports what the conversion was worth.
POSTBACK_MACROS: Final = (MACROS - {"lp_cid"}) | {"payout", "currency", "status", "txid",
                                                 "event"}

PARAM_PREFIX: Final = "param:"
_PARAM_NAME = re.compile(r"[A-Za-z0-9_.\-\[\]]{1,64}")
_SLOT = re.compile(r"\{([^{}]*)\}")
# A DNS name, or an IPv6 literal (urlsplit's hostname drops its brackets).
_HOST = re.compile(r"[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?|[0-9a-f.]*:[0-9a-f:.]*")
_FORBIDDEN = re.compile(r"[\x00-\x20\x7f\\]")
# Values made only of these are returned by `quote` unchanged: skip the call. As a
# bytes.translate table: unreserved bytes -> "a", any other byte -> NUL (not alnum).
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-~")
_UNRESERVED_AS_ALNUM = bytes(ord("a") if chr(i) in _UNRESERVED else 0 for i in range(256))


class TemplateError(ValueError):
    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def _is_macro(name: str, allowed: frozenset[str]) -> bool:
    if name.startswith(PARAM_PREFIX):
        return _PARAM_NAME.fullmatch(name[len(PARAM_PREFIX) :]) is not None
    return name in allowed


def _encode(value: str) -> str:
    # `quote` returns a value of unreserved characters unchanged: spot those without the
    # call (this is the hot path of every redirect).
    if value.isascii() and value.encode().translate(_UNRESERVED_AS_ALNUM).isalnum():
        return value
    return quote(value, safe="")


def problems(text: str, allowed: frozenset[str] = MACROS) -> list[str]:
    """Everything wrong with `text` as a redirect template; empty when it is usable."""
    found: list[str] = []
    for name in _SLOT.findall(text):
        if not _is_macro(name, allowed):
            found.append(f"unknown macro {{{name}}}")
    if "{" in _SLOT.sub("", text) or "}" in _SLOT.sub("", text):
        found.append("unbalanced brace")
    if _FORBIDDEN.search(_SLOT.sub("", text)):
        found.append("must not contain spaces, control characters or backslashes")
    # Everything up to the first macro must already be a full scheme://host, ended by
    # a literal / ? or #: a macro placed in the authority could change where we send people.
    head = text.split("{", 1)[0]
    try:
        parts = urlsplit(head)
    except ValueError:
        found.append("must be an absolute http(s) URL")
        return found
    if parts.scheme not in ("http", "https") or not head.lower().startswith(
        ("http://", "https://")
    ):
        found.append("must be an absolute http(s) URL")
        return found
    host_end = len(parts.scheme) + 3 + len(parts.netloc)
    if "{" in text and host_end >= len(head):
        found.append("scheme and host must be literal (no macro before the path)")
    elif "@" in parts.netloc:
        found.append("must not contain user info (user@host)")
    elif not parts.hostname or _HOST.fullmatch(parts.hostname) is None:
        found.append("must have a literal host name")
    else:
        try:
            _ = parts.port
        except ValueError:
            found.append("has an invalid port")
    return found


class Template:
    """A parsed template. Build with `Template.parse`; equal when the text is equal."""

    __slots__ = ("_parts", "macros", "text")

    def __init__(self, text: str, parts: tuple[str, ...], macros: tuple[str, ...]) -> None:
        self.text = text
        # Literal text and slots alternate: slot i (macro `macros[i]`) is parts[2 * i + 1].
        self._parts = parts
        self.macros = macros

    @classmethod
    def parse(cls, text: str, allowed: frozenset[str] = MACROS) -> Template:
        found = problems(text, allowed)
        if found:
            raise TemplateError(found)
        parts: list[str] = []
        macros: list[str] = []
        position = 0
        for match in _SLOT.finditer(text):
            parts += (text[position : match.start()], "")
            macros.append(match.group(1))
            position = match.end()
        parts.append(text[position:])
        return cls(text, tuple(parts), tuple(macros))

    def render(self, values: Mapping[str, str]) -> str:
        if not self.macros:
            return self.text
        get = values.get
        return self.fill([get(name) for name in self.macros])

    def fill(self, values: Sequence[str | None]) -> str:
        """The template with `values[i]` in slot i (macro `macros[i]`): `render` without
        the names, for a caller that computes each slot's value itself."""
        parts = list(self._parts)
        index = 1
        for value in values:
            if value:
                parts[index] = _encode(value)
            index += 2
        return "".join(parts)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Template) and other.text == self.text

    def __hash__(self) -> int:
        return hash(self.text)

    def __repr__(self) -> str:
        return f"Template({self.text!r})"
