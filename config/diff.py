"""Human-readable differences between two graphs, one line per changed path.

Lists of entities are matched by id, so paths read like
`campaigns[camp-a].rules[usa].destinations[global].weight: 50 -> 70` and inserting an
offer does not show every later offer as changed. Secrets are never printed.
"""

from __future__ import annotations

from typing import Any, Final

import msgspec

from turnout.config.model import Graph

_SECRET_FIELDS: Final = frozenset({"secret", "hmac_key"})


def graph_diff(old: Graph, new: Graph) -> list[str]:
    out: list[str] = []
    _diff("", old, new, out, secret=False)
    return out


def _join(path: str, field: str) -> str:
    return f"{path}.{field}" if path else field


def _show(value: Any) -> str:
    if isinstance(value, msgspec.Struct | tuple | dict):
        return msgspec.json.encode(value).decode()
    return repr(value)


def _keyed(items: tuple[Any, ...]) -> dict[str, Any] | None:
    """The items by id when they all have a distinct id (entities, rules, destinations)."""
    if not all(isinstance(item, msgspec.Struct) and hasattr(item, "id") for item in items):
        return None
    by_id = {item.id: item for item in items}
    return by_id if len(by_id) == len(items) else None


def _diff(path: str, old: Any, new: Any, out: list[str], secret: bool) -> None:
    if old == new:
        return
    if secret:
        out.append(f"{path}: changed (secret)")
    elif isinstance(old, msgspec.Struct) and type(old) is type(new):
        for field in old.__struct_fields__:
            _diff(_join(path, field), getattr(old, field), getattr(new, field), out,
                  secret=field in _SECRET_FIELDS)
    elif isinstance(old, tuple) and isinstance(new, tuple):
        _diff_tuple(path, old, new, out)
    elif isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(old.keys() - new.keys()):
            out.append(f"{path}.{key}: removed")
        for key in sorted(new.keys() - old.keys()):
            out.append(f"{path}.{key}: added {_show(new[key])}")
        for key in sorted(old.keys() & new.keys(), key=str):
            _diff(f"{path}.{key}", old[key], new[key], out, secret=False)
    else:
        out.append(f"{path}: {_show(old)} -> {_show(new)}")


def _diff_tuple(path: str, old: tuple[Any, ...], new: tuple[Any, ...], out: list[str]) -> None:
    old_ids, new_ids = _keyed(old), _keyed(new)
    if old_ids is not None and new_ids is not None:
        out.extend(f"{path}[{key}]: removed" for key in old_ids if key not in new_ids)
        for key in new_ids:
            if key not in old_ids:
                out.append(f"{path}[{key}]: added")
            else:
                _diff(f"{path}[{key}]", old_ids[key], new_ids[key], out, secret=False)
        kept_old = [key for key in old_ids if key in new_ids]
        kept_new = [key for key in new_ids if key in old_ids]
        if kept_old != kept_new:  # rule order decides which rule wins: worth a line
            out.append(f"{path}: order {kept_old} -> {kept_new}")
        return
    if not all(isinstance(item, msgspec.Struct) for item in (*old, *new)):
        out.append(f"{path}: {_show(old)} -> {_show(new)}")
        return
    for index in range(max(len(old), len(new))):
        here = f"{path}[{index}]"
        if index >= len(new):
            out.append(f"{here}: removed")
        elif index >= len(old):
            out.append(f"{here}: added {_show(new[index])}")
        else:
            _diff(here, old[index], new[index], out, secret=False)
