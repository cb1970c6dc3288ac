"""Graph YAML in plain block style -> Graph, a line at a time, without a YAML parser.

A graph file as `dump_graph` writes it (and as most people write one by hand) is block
mappings and sequences of one-line scalars. libyaml parses that in C, but PyYAML hands
every event to Python as an object with two marks: at 10,000 campaigns (2.2 million
lines, 5 million events) that alone was ~6 s. This reader takes such a file's lines as they
are and builds each entity's dicts and lists directly, resolving plain scalars through the
same `Scalars` (the reference loader's rules), and hands each entity to `Sections` as soon
as it is complete.

It reads only a strict subset and says `Unsupported` at the first line outside it, leaving
the whole text to the event reader (config.yaml_reader), which leaves anything it does not
cover to the reference loader: so a file it reads gives what the reference loader gives,
and every other file gets that loader's results and error messages. The subset:
- lines indented by spaces; blank lines and whole-line comments; no tab, carriage return
  or other control character, no byte-order mark, no line break but a newline;
- `key: scalar`, `key:` followed by a deeper block or a `- ` sequence at its indentation
  (or nothing: null), and `- scalar` / `- key: ...` items;
- a scalar on its key's or dash's line: plain (no `: `, ` #`, trailing `:` or indicator
  as its first character, no continuation line), single-quoted, or double-quoted without
  escapes; `[]` and `{}`;
- one document, without `---` or `...`; no anchors, aliases, tags, flow collections with
  content, block scalars (`|`, `>`), complex keys, or duplicate keys.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any, Final, Protocol

from turnout.config.decode import Sections, is_section
from turnout.config.model import Graph

# A plain scalar that means the same wherever a block-style line puts it: no indicator as
# its first character (a dash only before something other than a space or colon), no ": "
# or trailing ":", no " #" (a comment). A trailing space is refused line by line.
_PLAIN: Final = re.compile(r"(?:[^-?:,\[\]{}#&*!|>'\"%@` ]|-(?=[^ :]))(?:[^:#]|:[^ ]|(?<! )#)*")
_SINGLE: Final = re.compile(r"'(?:[^']|'')*'")
_DOUBLE: Final = re.compile(r'"[^"\\]*"')
# Anything but a newline and YAML's printable characters; and the line breaks (NEL, LS,
# PS) and the byte-order mark, which libyaml treats apart.
_UNPRINTABLE: Final = re.compile(
    "[^\n\x20-\x7e\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]|[\u2028\u2029\ufeff]")
_CONTROL: Final = re.compile("[\x00-\x09\x0b-\x1f\x7f]")  # the same for ASCII text
_KEY_MAX: Final = 1000  # libyaml refuses a simple key over 1024 characters
_CHUNK: Final = 1 << 20  # characters split into lines at a time (not the whole text)
_END: Final = -1  # the indentation past the last line


class Unsupported(Exception):
    """Something outside the subset a reader covers: a fuller reader takes the text."""


class Scalars(Protocol):
    """Plain scalars resolved as the reference loader resolves them."""

    known: dict[str, Any]  # text -> value, for texts already resolved

    def plain(self, text: str) -> Any: ...


def _lines(text: str) -> Iterator[str]:
    start, size = 0, len(text)
    while start < size:
        end = text.find("\n", min(start + _CHUNK, size))
        stop = size if end < 0 else end
        yield from text[start:stop].split("\n")
        start = stop + 1


def _split(content: str) -> tuple[str, str | None] | None:
    """A key line's key and the text after `: ` (None after a final `:`); None when the
    line holds no key."""
    if content[0] in "'\"":
        match = (_SINGLE if content[0] == "'" else _DOUBLE).match(content)
        if match is None:  # unterminated: a quoted scalar over several lines, or escapes
            raise Unsupported(content)
        end = match.end()
        if end == len(content):
            return None
        if content[end] != ":" or (end + 1 < len(content) and content[end + 1] != " "):
            raise Unsupported(content)
        return content[:end], (None if end + 1 == len(content) else content[end + 2:])
    colon = content.find(": ")
    if colon >= 0:
        return content[:colon], content[colon + 2:]
    if content[-1] == ":":
        return content[:-1], None
    return None


def _not_a_marker(content: str) -> None:
    if content[:3] in ("---", "...") and content[3:4] in ("", " "):
        raise Unsupported(content)  # a document's start or end


class _Reader:
    """The current line (its indentation and content), and values built from the lines."""

    def __init__(self, text: str, scalars: Scalars) -> None:
        self._lines = _lines(text)
        self._known = scalars.known
        self._plain = scalars.plain
        self.indent = _END
        self.content = ""
        self.advance()

    def advance(self) -> None:
        for line in self._lines:
            content = line.lstrip(" ")
            if not content or content[0] == "#":
                continue
            if content[-1] == " ":
                raise Unsupported(line)
            self.indent = len(line) - len(content)
            self.content = content
            if self.indent == 0:
                _not_a_marker(content)
            return
        self.indent, self.content = _END, ""

    def scalar(self, text: str) -> Any:
        first = text[0]
        if first == "'":
            if _SINGLE.fullmatch(text) is None:
                raise Unsupported(text)
            return text[1:-1].replace("''", "'")
        if first == '"':
            if _DOUBLE.fullmatch(text) is None:
                raise Unsupported(text)
            return text[1:-1]
        if text == "[]":
            return []
        if text == "{}":
            return {}
        value = self._known.get(text, _UNSEEN)
        if value is _UNSEEN:
            if _PLAIN.fullmatch(text) is None:
                raise Unsupported(text)
            value = self._plain(text)
        return value

    def key(self, text: str) -> Any:
        if not text or text[-1] == " " or len(text) > _KEY_MAX or text in ("[]", "{}"):
            raise Unsupported(text)
        return self.scalar(text)

    def mapping(self, indent: int, first: tuple[str, str | None] | None) -> dict[Any, Any]:
        """The block mapping at `indent`, from `first` (a `- key: ...` item's key and rest,
        on the current line) or else from the current line."""
        # Most of a graph's lines are `key: scalar` lines of a mapping: read inline here.
        result: dict[Any, Any] = {}
        known, lines = self._known, self._lines
        entry = first
        while True:
            if entry is not None:
                text, rest = entry
                entry = None
            else:
                content = self.content
                colon = content.find(": ")
                if colon > 0 and content[0] not in "'\"":
                    text, rest = content[:colon], content[colon + 2:]
                elif colon < 0 and content[-1] == ":" and content[0] not in "'\"":
                    text, rest = content[:-1], None
                else:
                    split = _split(content)
                    if split is None:
                        raise Unsupported(content)  # a scalar where a key belongs
                    text, rest = split
            key = known.get(text, _UNSEEN)
            if key is _UNSEEN or not text or len(text) > _KEY_MAX:
                key = self.key(text)
            if key in result:
                raise Unsupported(text)  # a duplicate: the reference loader says where
            if rest is None:
                self.advance()
                result[key] = self.block(indent)
            else:
                value = known.get(rest, _UNSEEN)
                result[key] = self.scalar(rest) if value is _UNSEEN else value
                # self.advance(), inline: the call per line was 0.5 s of 3.0 s at 10,000
                # campaigns (measured: 3.04 s inline, 3.52 s calling it)
                for line in lines:
                    content = line.lstrip(" ")
                    if not content or content[0] == "#":
                        continue
                    if content[-1] == " ":
                        raise Unsupported(line)
                    self.indent = len(line) - len(content)
                    self.content = content
                    if self.indent == 0:
                        _not_a_marker(content)
                    break
                else:
                    self.indent, self.content = _END, ""
            if self.indent != indent:
                if self.indent > indent:  # a continuation line, or bad indentation
                    raise Unsupported(self.content)
                return result

    def block(self, indent: int) -> Any:
        """The value after a `key:` of the mapping at `indent`: a deeper block, a sequence
        at the same indentation, or nothing (null)."""
        if self.indent > indent:
            content = self.content
            if content[:2] == "- ":
                return list(self.items(self.indent))
            if _split(content) is None:
                raise Unsupported(content)  # a scalar on a line of its own
            return self.mapping(self.indent, None)
        if self.indent == indent and self.content[:2] == "- ":
            return list(self.items(indent))
        return self.scalar_empty()

    def scalar_empty(self) -> Any:
        value = self._known.get("", _UNSEEN)
        return self._plain("") if value is _UNSEEN else value

    def items(self, indent: int) -> Iterator[Any]:
        """The items of the block sequence at `indent`, one at a time."""
        while self.indent == indent:
            content = self.content
            if content[:2] != "- ":
                if content == "-":
                    raise Unsupported(content)  # an item on the lines below its dash
                return  # the end of a sequence at its mapping's indentation
            rest = content[2:]
            colon = rest.find(": ")
            if colon > 0 and rest[0] not in "'\"":
                entry: tuple[str, str | None] | None = rest[:colon], rest[colon + 2:]
            else:
                entry = _split(rest)
            if entry is None:
                value = self.scalar(rest)
                self.advance()
            else:
                value = self.mapping(indent + 2, entry)
            yield value
            if self.indent > indent:
                raise Unsupported(self.content)


_UNSEEN: Final = object()


def read_block(text: str, scalars: Scalars) -> Graph:
    """The graph in `text`; Unsupported when it is not all in the subset this reads (or
    GraphInvalid, for a document in it that is not a graph)."""
    if (_CONTROL if text.isascii() else _UNPRINTABLE).search(text):
        raise Unsupported("a character outside the subset")
    reader = _Reader(text, scalars)
    if reader.indent != 0:
        raise Unsupported("not a mapping at the first column")
    sections = Sections()
    seen: set[Any] = set()
    while reader.indent == 0:
        entry = _split(reader.content)
        if entry is None:
            raise Unsupported(reader.content)
        text, rest = entry
        name = reader.key(text)
        if name in seen:
            raise Unsupported(text)
        seen.add(name)
        if rest is not None:
            sections.add(name, reader.scalar(rest))
            reader.advance()
        else:
            reader.advance()
            if is_section(name) and reader.indent >= 0 and reader.content[:2] == "- ":
                sections.add_items(name, reader.items(reader.indent))
            else:
                sections.add(name, reader.block(0))
        if reader.indent > 0:
            raise Unsupported(reader.content)
    return sections.graph()
