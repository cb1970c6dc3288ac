"""A version's manifest as a delta from the one before: what PostgreSQL keeps of most
versions (control/migrations/0003), a few bytes where the whole manifest of a 10,000-
campaign graph is 600 KB.

`apply(base, between(base, manifest))` rebuilds `manifest` exactly when the new entities of
each section come after the kept ones (what the publisher's patched graphs do); `exact`
says whether it does, and a version whose delta would not is stored whole.
"""

from __future__ import annotations

from typing import Final

import msgspec

from turnout.config.manifest import SECTION_NAMES, Changes, Entries, Manifest, entry_changes


class Delta(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True,
            forbid_unknown_fields=True):
    """Per section: the (id, digest) of each entity added or changed, in graph order, and
    the ids removed."""

    upserted: dict[str, Entries] = {}
    removed: dict[str, tuple[str, ...]] = {}

    def changes(self) -> Changes:
        return Changes(upserted={s: tuple(i for i, _ in e) for s, e in self.upserted.items()},
                       removed=dict(self.removed))

    def ids(self) -> dict[str, list[str]]:
        """Every id it touches, by section (sorted), as graph_versions.changed keeps them."""
        out: dict[str, set[str]] = {}
        for section, entries in self.upserted.items():
            out.setdefault(section, set()).update(i for i, _ in entries)
        for section, ids in self.removed.items():
            out.setdefault(section, set()).update(ids)
        return {section: sorted(ids) for section, ids in out.items()}


DECODER: Final = msgspec.json.Decoder(Delta)


def between(base: Manifest, manifest: Manifest) -> Delta:
    upserted, removed = entry_changes(base, manifest)
    return Delta(upserted=upserted, removed=removed)


def apply(base: Manifest, delta: Delta) -> Manifest:
    sections: dict[str, Entries] = {}
    for section in SECTION_NAMES:
        gone = frozenset(delta.removed.get(section, ()))
        news = delta.upserted.get(section, ())
        digests = dict(news)
        entries = [(i, digests.get(i, d)) for i, d in base.entries(section) if i not in gone]
        held = {i for i, _ in base.entries(section)}
        entries.extend((i, d) for i, d in news if i not in held)
        sections[section] = tuple(entries)
    return Manifest(sections)


def exact(base: Manifest, delta: Delta, manifest: Manifest) -> bool:
    """Does `delta` rebuild `manifest` from `base`, order included?"""
    return apply(base, delta) == manifest
