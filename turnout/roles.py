"""The roles of API keys, ascending: each can do everything the ones before it can.

viewer: reads and reports; editor: changes; admin: keys; owner: keys of every role.
"""

from __future__ import annotations

from typing import Final

ROLES: Final = ("viewer", "editor", "admin", "owner")
_RANK: Final = {role: rank for rank, role in enumerate(ROLES)}


def rank(role: str) -> int:
    try:
        return _RANK[role]
    except KeyError:
        raise ValueError(f"unknown role {role!r}; one of {', '.join(ROLES)}") from None
