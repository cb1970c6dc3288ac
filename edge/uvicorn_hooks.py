"""What the edge's protocol takes from uvicorn's private API, checked when it is imported.

edge.protocol and edge.wire override and read internals of uvicorn's httptools protocol
that no release promises to keep. pyproject holds uvicorn to the tested range; should a
different uvicorn be installed anyway, the edge fails at import naming every missing
piece, instead of overriding a hook that uvicorn no longer calls.
"""

from __future__ import annotations

import dis
from collections.abc import Iterable, Iterator
from types import CodeType
from typing import Final

import uvicorn

TESTED_UVICORN: Final = ">=0.54,<0.55"  # pyproject's pin; a unit test keeps the two equal


def _codes(code: CodeType) -> Iterator[CodeType]:
    yield code
    for const in code.co_consts:
        if isinstance(const, CodeType):
            yield from _codes(const)


def _stored_attributes(cls: type) -> set[str]:
    """Every `obj.name = ...` in the code of `cls` and its bases: instance attributes that
    exist only once __init__ or a callback has run."""
    names: set[str] = set()
    for klass in cls.__mro__:
        for value in vars(klass).values():
            function = getattr(value, "__func__", value)
            code = getattr(function, "__code__", None)
            if not isinstance(code, CodeType):
                continue
            for inner in _codes(code):
                names.update(i.argval for i in dis.get_instructions(inner)
                             if i.opname == "STORE_ATTR")
    return names


def missing(owner: object, methods: Iterable[str] = (), attributes: Iterable[str] = ()
            ) -> list[str]:
    """The `methods` (callables) and `attributes` (on the object, or set by a class's own
    code) that `owner`, a class or a module, lacks, as `Owner.name`."""
    label = getattr(owner, "__qualname__", None) or getattr(owner, "__name__", repr(owner))
    found = [f"{label}.{name}()" for name in methods
             if not callable(getattr(owner, name, None))]
    wanted = [name for name in attributes if not hasattr(owner, name)]
    if wanted and isinstance(owner, type):
        stored = _stored_attributes(owner)
        wanted = [name for name in wanted if name not in stored]
    return found + [f"{label}.{name}" for name in wanted]


def require(checks: Iterable[tuple[object, Iterable[str], Iterable[str]]]) -> None:
    """Raise ImportError naming everything the (owner, methods, attributes) checks miss."""
    problems = [name for owner, methods, attributes in checks
                for name in missing(owner, methods, attributes)]
    if problems:
        raise ImportError(
            f"turnout's edge protocol relies on uvicorn internals that uvicorn "
            f"{uvicorn.__version__} lacks: {', '.join(problems)}; it is tested with "
            f"uvicorn{TESTED_UVICORN}")
