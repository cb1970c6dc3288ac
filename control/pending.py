"""Changes committed but not yet published, gathered into one version per window.

Each change says which workspace, who (a key id or `governor`), why, and which entity ids
it touched; a Batch is every change taken at once, and what the version records of them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

MAX_NOTES: Final = 10  # notes named in a version's note; the count says the rest


@dataclass(frozen=True, slots=True)
class Change:
    workspace_id: str
    actor: str
    note: str
    entities: Mapping[str, tuple[str, ...]]  # ids by section (`campaigns`, ...)


@dataclass(frozen=True, slots=True)
class Batch:
    changes: tuple[Change, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.changes)

    def ids(self) -> dict[str, set[str]]:
        out: dict[str, set[str]] = {}
        for change in self.changes:
            for section, ids in change.entities.items():
                out.setdefault(section, set()).update(ids)
        return out

    def actors(self, workspace_id: str | None = None) -> list[str]:
        return distinct(c.actor for c in self._of(workspace_id))

    def notes(self, workspace_id: str | None = None) -> list[str]:
        return distinct(c.note for c in self._of(workspace_id) if c.note)

    def workspaces(self) -> list[str]:
        return distinct(c.workspace_id for c in self.changes)

    def actor(self) -> str:
        """The version's actor: every actor of the batch."""
        return ",".join(self.actors())

    def note(self) -> str:
        """The version's note: the distinct notes, the first MAX_NOTES of them named."""
        return summary(self.notes())

    def _of(self, workspace_id: str | None) -> Iterable[Change]:
        return (c for c in self.changes if workspace_id is None or c.workspace_id == workspace_id)

    def __add__(self, other: Batch) -> Batch:
        return Batch(self.changes + other.changes)


def summary(notes: Sequence[str]) -> str:
    """A version's note of these (distinct) notes: the first MAX_NOTES named, the rest counted."""
    text = "; ".join(notes[:MAX_NOTES])
    if len(notes) > MAX_NOTES:
        text += f"; and {len(notes) - MAX_NOTES} more"
    return text


def distinct(items: Iterable[str]) -> list[str]:
    """`items` without repeats, in first-seen order."""
    return list(dict.fromkeys(items))


class Pending:
    """The changes waiting, and since when (the monotonic time of the first)."""

    def __init__(self) -> None:
        self._changes: list[Change] = []
        self.since: float | None = None

    def __bool__(self) -> bool:
        return bool(self._changes)

    def add(self, change: Change, now: float) -> None:
        self._changes.append(change)
        if self.since is None:
            self.since = now

    def take(self) -> Batch:
        batch = Batch(tuple(self._changes))
        self._changes, self.since = [], None
        return batch

    def put_back(self, batch: Batch, now: float) -> None:
        """A batch that could not be published goes first again, due at once."""
        self._changes[:0] = batch.changes
        if batch and (self.since is None or self.since > now):
            self.since = now
