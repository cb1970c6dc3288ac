"""Graph YAML -> Graph: libyaml's events built straight into entities, one at a time.

PyYAML's loaders run libyaml's parser in C but compose a node tree (two marks per node)
and construct it in Python, resolving every scalar through a list of regexes: for a
10,000-campaign file that was a minute and 2 GB. Here the C parser's events are built
directly into dicts and lists, one entity at a time, each decoded into the model as soon
as it is complete; a plain scalar is resolved once per distinct text.

Before it, config.yaml_lines reads a file in plain block style (what `dump_graph` writes)
straight from its lines, without the parser's events, which cost most of the time left;
anything outside its subset comes here.

`Loader` stays the definition of what a document means. The fast reader covers the YAML
a graph is written in (block and flow collections, quoted and plain scalars, anchors and
aliases); anything else (an explicit tag, a merge key `<<`, a duplicate key, a second
document, a syntax error) makes it hand the whole text to `Loader`, so results and error
messages are the reference loader's in every case.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any, Final

import yaml
from yaml.events import (
    AliasEvent,
    DocumentEndEvent,
    DocumentStartEvent,
    Event,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
    StreamStartEvent,
)
from yaml.nodes import ScalarNode

from turnout.config.decode import Sections, graph_from_builtins, is_section
from turnout.config.model import Graph
from turnout.config.yaml_lines import Unsupported as _Unsupported
from turnout.config.yaml_lines import read_block

_YAML_BOOL: Final = "tag:yaml.org,2002:bool"
_YAML_FLOAT: Final = "tag:yaml.org,2002:float"
_YAML_TIMESTAMP: Final = "tag:yaml.org,2002:timestamp"
_YAML_INT: Final = "tag:yaml.org,2002:int"
_YAML_NULL: Final = "tag:yaml.org,2002:null"
_YAML_STR: Final = "tag:yaml.org,2002:str"

_BaseLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
try:
    from yaml._yaml import CParser as _Parser
except ImportError:  # PyYAML built without libyaml: the pure-Python parser, same events
    from yaml import SafeLoader as _Parser  # type: ignore[assignment]


class Loader(_BaseLoader):  # type: ignore[misc,valid-type]
    """SafeLoader with YAML 1.2-like scalars.

    Only true/false are booleans (so the country code NO stays "NO"), timestamps stay
    text, and floats keep their literal text: the graph has no float fields, only
    decimal-string money, so `payout: 12.50` means "12.50".
    """

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag not in (_YAML_BOOL, _YAML_TIMESTAMP)]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
Loader.add_implicit_resolver(
    _YAML_BOOL, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
Loader.add_constructor(_YAML_FLOAT, lambda loader, node: loader.construct_scalar(node))


def reference_load(text: str) -> Any:
    """The document as `Loader` reads it (None for an empty one)."""
    return yaml.load(text, Loader=Loader)  # a SafeLoader subclass


_UNKNOWN: Final = object()  # not yet in _Scalars.known


class _Scalars:
    """Plain scalars resolved and constructed as `Loader` does, once per distinct text."""

    def __init__(self) -> None:
        loader = Loader("")
        self._resolve = loader.resolve
        self._construct: dict[str, Callable[[ScalarNode], Any]] = {
            _YAML_NULL: loader.construct_yaml_null,
            _YAML_BOOL: loader.construct_yaml_bool,
            _YAML_INT: loader.construct_yaml_int,
            _YAML_FLOAT: loader.construct_scalar,
            _YAML_STR: loader.construct_scalar,
        }
        self.known: dict[str, Any] = {}

    def plain(self, text: str) -> Any:
        tag = self._resolve(ScalarNode, text, (True, False))
        construct = self._construct.get(tag)
        if construct is None:  # a merge key or a value (=) tag
            raise _Unsupported(tag)
        value = self.known[text] = construct(ScalarNode(tag, text))
        return value


class _Builder:
    """Values from the event stream of one document."""

    def __init__(self, next_event: Callable[[], Event]) -> None:
        self.next = next_event
        self.scalars = _Scalars()
        self.anchors: dict[str, Any] = {}

    def scalar(self, event: ScalarEvent) -> Any:
        if event.tag is not None or event.anchor is not None:
            return self._unusual_scalar(event)
        if event.implicit[0]:
            found = self.scalars.known.get(event.value, _UNKNOWN)
            return self.scalars.plain(event.value) if found is _UNKNOWN else found
        return event.value

    def _unusual_scalar(self, event: ScalarEvent) -> Any:
        if event.tag is not None:
            raise _Unsupported(event.tag)
        value = self.scalar(ScalarEvent(None, None, event.implicit, event.value))
        self._anchor(event.anchor, value)
        return value

    def _anchor(self, name: str, value: Any) -> None:
        # Registered once complete, so an alias to a collection from inside itself
        # (recursion) is not found here and goes to `Loader`, as does a duplicate anchor.
        if name in self.anchors:
            raise _Unsupported(name)
        self.anchors[name] = value

    def value(self, event: Event) -> Any:
        kind = type(event)
        if kind is ScalarEvent:
            return self.scalar(event)  # type: ignore[arg-type]
        if kind is MappingStartEvent:
            return self.mapping(event)  # type: ignore[arg-type]
        if kind is SequenceStartEvent:
            return self.sequence(event)  # type: ignore[arg-type]
        if kind is AliasEvent and event.anchor in self.anchors:  # type: ignore[attr-defined]
            return self.anchors[event.anchor]  # type: ignore[attr-defined]
        raise _Unsupported(event)  # an undefined or recursive alias

    # mapping and _items read most of a document's events: a plain or quoted scalar, by
    # far the most common event, is handled inline rather than through value() and scalar().

    def mapping(self, event: MappingStartEvent) -> dict[Any, Any]:
        if event.tag is not None:
            raise _Unsupported(event.tag)
        result: dict[Any, Any] = {}
        read, value, known, plain = self.next, self.value, self.scalars.known, self.scalars.plain
        while True:
            key_event: Any = read()
            if type(key_event) is not ScalarEvent:
                if type(key_event) is MappingEndEvent:
                    break
                raise _Unsupported(key_event)  # a collection or alias as a key
            if key_event.tag is not None or key_event.anchor is not None:
                key = self._unusual_scalar(key_event)
            elif key_event.implicit[0]:
                key = known.get(key_event.value, _UNKNOWN)
                if key is _UNKNOWN:
                    key = plain(key_event.value)
            else:
                key = key_event.value
            if key in result:
                raise _Unsupported(key)  # a duplicate: `Loader` reports where
            item: Any = read()
            if type(item) is ScalarEvent and item.tag is None and item.anchor is None:
                if item.implicit[0]:
                    found = known.get(item.value, _UNKNOWN)
                    result[key] = plain(item.value) if found is _UNKNOWN else found
                else:
                    result[key] = item.value
            else:
                result[key] = value(item)
        if event.anchor is not None:
            self._anchor(event.anchor, result)
        return result

    def sequence(self, event: SequenceStartEvent) -> list[Any]:
        if event.tag is not None:
            raise _Unsupported(event.tag)
        result = list(self._items())
        if event.anchor is not None:
            self._anchor(event.anchor, result)
        return result

    def _items(self) -> Iterator[Any]:
        read, value, known, plain = self.next, self.value, self.scalars.known, self.scalars.plain
        while type(item := read()) is not SequenceEndEvent:
            if type(item) is ScalarEvent and item.tag is None and item.anchor is None:
                if item.implicit[0]:
                    found = known.get(item.value, _UNKNOWN)
                    yield plain(item.value) if found is _UNKNOWN else found
                else:
                    yield item.value
            else:
                yield value(item)

    def items(self, event: SequenceStartEvent) -> Iterator[Any]:
        """A sequence's items one at a time, none kept (an anchored one goes to Loader)."""
        if event.tag is not None or event.anchor is not None:
            raise _Unsupported(event)
        return self._items()

    def keys(self, event: MappingStartEvent) -> Iterator[Any]:
        """The keys of a mapping, each value left for the caller to read after its key."""
        if event.tag is not None or event.anchor is not None:
            raise _Unsupported(event)
        seen: set[Any] = set()
        while type(key_event := self.next()) is not MappingEndEvent:
            if type(key_event) is not ScalarEvent:
                raise _Unsupported(key_event)
            key = self.scalar(key_event)  # type: ignore[arg-type]
            if key in seen:
                raise _Unsupported(key)
            seen.add(key)
            yield key


def _expect(event: Event, kind: type[Event]) -> None:
    if type(event) is not kind:
        raise _Unsupported(event)


def _fast(text: str) -> Graph:
    parser = _Parser(text)
    try:
        build = _Builder(parser.get_event)
        _expect(build.next(), StreamStartEvent)
        start = build.next()
        if type(start) is StreamEndEvent:
            return Graph()
        _expect(start, DocumentStartEvent)
        top = build.next()
        if type(top) is MappingStartEvent:
            sections = Sections()
            for name in build.keys(top):  # type: ignore[arg-type]
                event = build.next()
                if is_section(name) and type(event) is SequenceStartEvent:
                    sections.add_items(name, build.items(event))  # type: ignore[arg-type]
                else:
                    sections.add(name, build.value(event))
            data: Any = sections
        else:
            data = build.value(top)
        _expect(build.next(), DocumentEndEvent)
        _expect(build.next(), StreamEndEvent)
    finally:
        parser.dispose()
    if isinstance(data, Sections):
        return data.graph()
    return graph_from_builtins({} if data is None else data)


def load_yaml(text: str) -> Graph:
    """The graph in a YAML document: by lines, else by events, else by `Loader`. Raises
    yaml.YAMLError (from `Loader`) on bad YAML and GraphInvalid on shape errors."""
    try:
        return read_block(text, _Scalars())
    except _Unsupported:
        pass
    try:
        return _fast(text)
    except (_Unsupported, yaml.YAMLError):
        pass
    data = reference_load(text)
    return graph_from_builtins({} if data is None else data)
