"""JSON merge patch (RFC 7396): how PATCH changes an entity document.

An object patch merges member by member (null removes a member, so the field falls back
to its default); anything else, arrays included, replaces the target whole.
"""

from __future__ import annotations

from typing import Any


def apply(target: Any, patch: Any) -> Any:
    """`target` with `patch` applied; neither argument is changed."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for name, value in patch.items():
        if value is None:
            result.pop(name, None)
        else:
            result[name] = apply(result.get(name), value)
    return result
