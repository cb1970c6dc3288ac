"""The bodies of the entity routes: exactly the config.model entities (the YAML shape),
with `workspace` optional (the key's) and `revision` as reads show it; the OpenAPI
schemas come from these types.

A body's `revision` is optional and, when given, must be the If-Match one: so what a GET
answered can be sent back as it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import msgspec

from turnout.config import model
from turnout.config.errors import GraphInvalid, Problem
from turnout.config.model import Entity
from turnout.control.entities import entity_from


class Deleted(msgspec.Struct, kw_only=True):
    id: str
    outcome: str
    """`deleted`, or `archived` for a campaign that was ever active (its clicks name it)."""


@dataclass(frozen=True, slots=True)
class Kind:
    """One entity kind of the API: its section, path segment, name and types."""

    section: str
    segment: str  # /api/v1/<segment>
    singular: str
    body: type  # the model entity, `workspace` optional, `revision` optional
    patch: type  # a JSON merge patch of it: every field optional, null removes
    read: type  # the model entity with its `revision`
    page: type  # {items: [read], next_cursor}


_PATCHES: dict[type, type] = {}


def _patch_type(struct: type) -> type:
    """The JSON merge patch (RFC 7396) of `struct` as a Struct: each field optional (left
    out: kept), null (removed: back to its default); a nested struct is patched the same
    way, member by member; lists are replaced whole, maps merged key by key. Unknown
    fields are refused like anywhere else, and msgspec.to_builtins gives the patch back
    (unset fields are left out)."""
    found = _PATCHES.get(struct)
    if found is not None:
        return found
    fields: list[tuple[str, Any, Any]] = []
    for info in msgspec.structs.fields(struct):
        kind = info.type
        if isinstance(kind, type) and issubclass(kind, msgspec.Struct):
            kind = _patch_type(kind)
        elif getattr(kind, "__origin__", None) is dict:
            key, value = kind.__args__
            kind = dict[key, value | None]  # type: ignore[valid-type]
        fields.append((info.name, kind | None | msgspec.UnsetType, msgspec.UNSET))
    patch = _PATCHES[struct] = msgspec.defstruct(
        f"{struct.__name__}Patch", fields, kw_only=True, forbid_unknown_fields=True,
        module=__name__)
    return patch


def _summary(read: type) -> type:
    """A campaign as lists show it: every field but its rules and default path."""
    fields = [(f.name, f.type) if f.required else (f.name, f.type, f.default)
              for f in msgspec.structs.fields(read) if f.name not in ("rules", "default")]
    return msgspec.defstruct("CampaignSummary", fields, kw_only=True, module=__name__)


def _kind(section: str, singular: str) -> Kind:
    entity = dict(model.SECTIONS)[section]
    name = entity.__name__
    body = msgspec.defstruct(f"{name}Body", [("workspace", str | None, None),
                                             ("revision", int | None, None)],
                             bases=(entity,), kw_only=True, module=__name__)
    read = msgspec.defstruct(f"{name}Read", [("revision", int)], bases=(entity,),
                             kw_only=True, omit_defaults=False, module=__name__)
    listed = read if entity is not model.Campaign else _summary(read)
    page = msgspec.defstruct(f"{name}Page", [("items", list[listed]),  # type: ignore[valid-type]
                                             ("next_cursor", str | None)],
                             kw_only=True, module=__name__)
    patch = msgspec.defstruct(f"{name}Patch", [("revision", int | None | msgspec.UnsetType,
                                                 msgspec.UNSET)],
                              bases=(_patch_type(entity),), kw_only=True, module=__name__)
    return Kind(section, section.replace("_", "-"), singular, body, patch, read, page)


KINDS: Final[dict[str, Kind]] = {k.section: k for k in (
    _kind("traffic_sources", "traffic source"),
    _kind("networks", "network"),
    _kind("offers", "offer"),
    _kind("landers", "lander"),
    _kind("funnels", "funnel"),
    _kind("campaigns", "campaign"),
)}


def check_revision(named: Any, revision: int | None) -> None:
    """A body's `revision`, when it names one, must be the If-Match `revision` (None: a
    creation, which has none yet)."""
    if named is not None and named != revision:
        expected = "left out on a creation" if revision is None else \
            f"{revision}, the If-Match revision (or left out)"
        raise GraphInvalid([Problem("revision", f"must be {expected}")])


def entity_of(kind: str, body: Any, workspace_id: str, revision: int | None) -> Entity:
    """The body as the model entity of the key's workspace (see check_revision)."""
    document = msgspec.to_builtins(body)
    check_revision(document.pop("revision", None), revision)
    return entity_from(kind, document, workspace_id)
