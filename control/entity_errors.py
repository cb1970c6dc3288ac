"""Why an entity write is refused, as the admin API answers it: not found (404), a conflict
with other entities or the lifecycle (409). Invalid bodies are config's GraphInvalid with
paths relative to the entity (422); a stale If-Match is graph_write.StaleRevision (412)."""

from __future__ import annotations

from collections.abc import Iterable

from turnout.control.errors import ControlError


class EntityNotFound(ControlError, LookupError):
    """No such entity in the workspace (one of another workspace is not found either)."""

    def __init__(self, kind: str, entity_id: str) -> None:
        super().__init__(f"no {kind} {entity_id!r} in this workspace")
        self.kind, self.entity_id = kind, entity_id


class EntityConflict(ControlError):
    """The write would leave other entities (or the id space) inconsistent; `errors` are
    (path, message) pairs naming what is in the way."""

    def __init__(self, reason: str, errors: Iterable[tuple[str, str]] = ()) -> None:
        super().__init__(reason)
        self.reason = reason
        self.errors = list(errors)
