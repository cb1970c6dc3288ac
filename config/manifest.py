"""A graph version as stored: a manifest naming each entity's document by its digest.

Every entity (a workspace, an offer, a campaign with its rules…) is encoded on its own and
named by a digest of its section and bytes, so two versions share every entity neither
changed: a version that changes one campaign's weights adds one small document and a
manifest, never a copy of the graph. Comparing two manifests says exactly which entities
changed, without decoding any of them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Mapping
from typing import Final

import msgspec

from turnout.config.model import SECTIONS, Entity, Graph

SECTION_NAMES: Final = tuple(name for name, _ in SECTIONS)
CAMPAIGNS: Final = "campaigns"
SHARED_SECTIONS: Final = tuple(name for name in SECTION_NAMES if name != CAMPAIGNS)

_ENCODER: Final = msgspec.json.Encoder()
_DECODERS: Final = {name: msgspec.json.Decoder(kind) for name, kind in SECTIONS}


class Manifest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Per section, the (id, digest) of each entity in graph order."""

    sections: dict[str, tuple[tuple[str, str], ...]]

    def entries(self, section: str) -> tuple[tuple[str, str], ...]:
        return self.sections.get(section, ())

    def digests(self) -> Iterator[str]:
        for entries in self.sections.values():
            for _, digest in entries:
                yield digest

    def by_id(self, section: str) -> dict[str, str]:
        return dict(self.entries(section))


class Changes(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """What a version changed relative to another, by section: the ids added or changed,
    and the ids removed."""

    upserted: dict[str, tuple[str, ...]] = {}
    removed: dict[str, tuple[str, ...]] = {}

    def ids(self, section: str) -> frozenset[str]:
        """Every id of `section` this change touches (upserted or removed)."""
        return frozenset(self.upserted.get(section, ())) | frozenset(self.removed.get(section, ()))

    @property
    def shared(self) -> bool:
        """Does it touch anything but campaigns?"""
        return any(section != CAMPAIGNS for section in (*self.upserted, *self.removed))

    @property
    def empty(self) -> bool:
        return not self.upserted and not self.removed

    def by_section(self) -> dict[str, frozenset[str]]:
        """Every id touched (upserted or removed), by section; untouched sections left out."""
        return {section: self.ids(section) for section in SECTION_NAMES
                if section in self.upserted or section in self.removed}

    def count(self) -> int:
        return sum(map(len, self.upserted.values())) + sum(map(len, self.removed.values()))


def digest_of(section: str, document: bytes) -> str:
    return hashlib.blake2b(section.encode() + b"\x00" + document, digest_size=16).hexdigest()


def encode_entity(entity: Entity) -> bytes:
    return _ENCODER.encode(entity)


def decode_entity(section: str, document: bytes) -> Entity:
    return _DECODERS[section].decode(document)  # type: ignore[no-any-return]


def manifest_of(graph: Graph) -> tuple[Manifest, dict[str, bytes]]:
    """The graph's manifest and its entity documents by digest."""
    documents: dict[str, bytes] = {}
    sections: dict[str, tuple[tuple[str, str], ...]] = {}
    for section in SECTION_NAMES:
        entries = []
        for entity in getattr(graph, section):
            document = encode_entity(entity)
            digest = digest_of(section, document)
            documents[digest] = document
            entries.append((entity.id, digest))  # type: ignore[attr-defined]
        sections[section] = tuple(entries)
    return Manifest(sections), documents


def manifest_since(graph: Graph, base: Manifest, changed: Mapping[str, Iterable[str]]
                   ) -> tuple[Manifest, dict[str, bytes]]:
    """`manifest_of(graph)` for a graph that equals `base`'s except for the `changed` ids
    (by section): only those entities, and any id `base` lacks, are encoded again; the
    documents returned are theirs."""
    documents: dict[str, bytes] = {}
    sections: dict[str, tuple[tuple[str, str], ...]] = {}
    for section in SECTION_NAMES:
        known = base.by_id(section)
        fresh = frozenset(changed.get(section, ()))
        entries = []
        seen: set[str] = set()
        for entity in getattr(graph, section):
            entity_id = entity.id  # type: ignore[attr-defined]
            digest = known.get(entity_id)
            if digest is None or entity_id in fresh or entity_id in seen:
                document = encode_entity(entity)
                digest = digest_of(section, document)
                documents[digest] = document
            entries.append((entity_id, digest))
            seen.add(entity_id)
        sections[section] = tuple(entries)
    return Manifest(sections), documents


Entries = tuple[tuple[str, str], ...]


def entry_changes(old: Manifest | None, new: Manifest
                  ) -> tuple[dict[str, Entries], dict[str, tuple[str, ...]]]:
    """Per section, the (id, digest) entries of `new` that `old` does not have (added or
    changed, in graph order), and the ids of `old` that `new` lacks; sections without
    either are left out."""
    upserted: dict[str, Entries] = {}
    removed: dict[str, tuple[str, ...]] = {}
    for section in SECTION_NAMES:
        before = {} if old is None else old.by_id(section)
        after = new.entries(section)
        changed = tuple((i, d) for i, d in after if before.get(i) != d)
        kept = {i for i, _ in after}
        gone = tuple(i for i in before if i not in kept)
        if changed:
            upserted[section] = changed
        if gone:
            removed[section] = gone
    return upserted, removed


def changes_between(old: Manifest | None, new: Manifest) -> Changes:
    """What `new` changed relative to `old` (everything, when there is no `old`)."""
    upserted, removed = entry_changes(old, new)
    return Changes(upserted={s: tuple(i for i, _ in e) for s, e in upserted.items()},
                   removed=removed)


def missing_documents(have: Manifest | None, want: Manifest) -> list[str]:
    """The digests of `want` that `have` does not name, each once."""
    held = set() if have is None else set(have.digests())
    return list(dict.fromkeys(d for d in want.digests() if d not in held))


def assemble(manifest: Manifest, entities: Mapping[str, Entity]) -> Graph:
    """The graph a manifest names, from its entities by digest (KeyError when one is
    missing)."""
    return Graph(**{
        section: tuple(entities[digest] for _, digest in manifest.entries(section))
        for section in SECTION_NAMES
    })


def decode_all(manifest: Manifest, documents: Mapping[str, bytes],
               digests: Iterable[str] | None = None) -> dict[str, Entity]:
    """Decode the documents of `digests` (default: every one the manifest names)."""
    section_of = {d: section for section in SECTION_NAMES for _, d in manifest.entries(section)}
    wanted = section_of if digests is None else digests
    return {d: decode_entity(section_of[d], documents[d]) for d in wanted}
