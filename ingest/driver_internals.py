"""The clickhouse-connect internals ingest.store encodes inserts with, checked at import.

Store.encode runs clickhouse-connect's own Native serializer on the event loop and hands
the bytes to `raw_insert` (see its docstring for why). That reaches past the documented
API: `NativeTransform.build_insert`, the attributes of `InsertContext`, `quote_identifier`.
pyproject pins the range this was tested with; a release outside it may move any of them,
and would then fail deep inside the first batch with an AttributeError. Instead, importing
this module checks every piece and raises one ImportError that names each missing one and
the tested range.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from turnout.ingest.errors import IngestError

TESTED_RANGE: Final = "clickhouse-connect>=1.12,<1.13"


class DriverMismatch(IngestError, ImportError):
    """The installed clickhouse-connect lacks internals ingest.store relies on."""


@dataclass(frozen=True, slots=True)
class Internal:
    """One object of clickhouse-connect, and what of it is used."""

    module: str
    name: str
    attributes: tuple[str, ...] = ()
    # Set in __init__, so only an instance has them; `probe` builds one from the class.
    instance_attributes: tuple[str, ...] = ()
    probe: Callable[[Any], Any] | None = None
    # Keyword arguments passed to its methods: {method: (keyword, ...)}.
    keywords: tuple[tuple[str, tuple[str, ...]], ...] = ()

    @property
    def path(self) -> str:
        return f"{self.module}.{self.name}"


def _probe_insert_context(cls: Any) -> Any:
    return cls("probe", (), ())


USED: Final = (
    Internal("clickhouse_connect.driver.transform", "NativeTransform", ("build_insert",)),
    Internal(
        "clickhouse_connect.driver.insert", "InsertContext", ("data",),
        instance_attributes=(
            "table", "column_names", "settings", "compression", "insert_exception",
        ),
        probe=_probe_insert_context,
    ),
    Internal("clickhouse_connect.driver.binding", "quote_identifier"),
    Internal(
        "clickhouse_connect.driver.client", "Client",
        ("create_insert_context", "insert", "raw_insert", "query"),
        keywords=(
            ("create_insert_context", ("database", "column_type_names", "column_oriented")),
            ("insert", ("context",)),
            ("raw_insert", ("settings", "fmt")),
        ),
    ),
)


def _accepts(function: Any, names: Sequence[str]) -> list[str]:
    """Those of `names` that `function` takes no keyword argument for."""
    try:
        parameters = inspect.signature(function).parameters
    except (TypeError, ValueError):
        return []  # no signature to read (a C function): trust it
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        return []
    return [name for name in names if name not in parameters]


def missing(used: Sequence[Internal] = USED) -> list[str]:
    """Every piece of `used` the installed clickhouse-connect lacks, one line each."""
    problems: list[str] = []
    for internal in used:
        try:
            module = importlib.import_module(internal.module)
        except ImportError as exc:
            problems.append(f"{internal.path} (module not importable: {exc})")
            continue
        found = getattr(module, internal.name, None)
        if found is None:
            problems.append(internal.path)
            continue
        problems.extend(
            f"{internal.path}.{name}" for name in internal.attributes if not hasattr(found, name)
        )
        if internal.probe is not None:
            try:
                instance = internal.probe(found)
            except Exception as exc:
                problems.append(f"{internal.path}() (cannot build one to check: {exc})")
            else:
                problems.extend(
                    f"{internal.path}().{name}"
                    for name in internal.instance_attributes
                    if not hasattr(instance, name)
                )
        for method, names in internal.keywords:
            function = getattr(found, method, None)
            if function is not None:
                problems.extend(
                    f"{internal.path}.{method}({name}=...)" for name in _accepts(function, names)
                )
    return problems


def require(used: Sequence[Internal] = USED) -> None:
    """Raise DriverMismatch naming every missing piece of `used`, if any is missing."""
    problems = missing(used)
    if problems:
        raise DriverMismatch(
            f"turnout ingest needs clickhouse-connect internals that the installed "
            f"{_installed()} lacks (tested with {TESTED_RANGE}): " + "; ".join(problems)
        )


def _installed() -> str:
    import importlib.metadata  # only on the way to an error: it takes longer than the check

    try:
        return f"version {importlib.metadata.version('clickhouse-connect')}"
    except importlib.metadata.PackageNotFoundError:
        return "version (unknown)"


require()

# Imported only after the check, so a mismatch fails naming every missing piece at once
# rather than with whichever import happens to fail first.
from clickhouse_connect.driver.binding import quote_identifier  # noqa: E402
from clickhouse_connect.driver.insert import InsertContext  # noqa: E402
from clickhouse_connect.driver.transform import NativeTransform  # noqa: E402

__all__ = ["TESTED_RANGE", "DriverMismatch", "InsertContext", "NativeTransform",
           "quote_identifier", "require"]
