"""The campaign editor's form: field names are the API's problem paths
(`rules[0].destinations[1].weight`), so a 422 lands at the field it is about.

`document` turns a submitted form into the campaign document the API's PUT takes (the
fields the editor does not show are kept from the stored campaign); `apply` adds or
removes a rule, condition or destination without saving (no script needed).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Mapping
from typing import Any, Final

_PATH: Final = re.compile(r"[A-Za-z_]\w*(?:\[\d{1,4}\]|\.[A-Za-z_]\w*)*")
_TOKEN: Final = re.compile(r"([A-Za-z_]\w*)|\[(\d{1,4})\]")
# The fields of the stored campaign the form replaces; the rest (parent, windows,
# inactive policy...) are sent back as stored.
EDITED: Final = ("name", "code", "traffic_source", "redirect_mode", "cost_model", "schedule",
                 "budget", "daily_click_cap", "daily_conversion_cap", "bot_policy", "rules",
                 "default")
_INTEGERS: Final = frozenset({"weight", "priority", "daily_click_cap", "daily_conversion_cap",
                              "at"})
_FLAGS: Final = frozenset({"paused", "negate"})
_LISTS: Final = frozenset({"values", "offers"})
_THRESHOLD: Final = re.compile(r"^\s*(\S+?)\s*%?\s+(\S+)\s*$")


class FormError(ValueError):
    """A field name that is not a path of the form (a hand-made post)."""


def parse_path(path: str) -> list[str | int]:
    """`rules[0].destinations[1].weight` -> ['rules', 0, 'destinations', 1, 'weight']."""
    if not _PATH.fullmatch(path):
        raise FormError(f"not a field path: {path!r}")
    return [name if name else int(index) for name, index in _TOKEN.findall(path)]


def nest(items: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """Flat (path, value) pairs as nested dicts and lists (indexes in order, gaps closed)."""
    root: dict[Any, Any] = {}
    for path, value in items:
        parts = parse_path(path)
        node = root
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise FormError(f"{path!r} names a field inside a value")
        if isinstance(node.get(parts[-1]), dict):
            raise FormError(f"{path!r} is a group of fields, not a value")
        node[parts[-1]] = value
    return _lists(root)


def paths(node: Any, prefix: str = "") -> list[str]:
    """Every field path of a document, groups (`rules[0]`) as well as values."""
    found = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, value in node.items():
            found += paths(value, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(node, list) and any(isinstance(v, dict) for v in node):
        for i, value in enumerate(node):
            found += paths(value, f"{prefix}[{i}]")
    return found


def _lists(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    if node and all(isinstance(k, int) for k in node):
        return [_lists(node[k]) for k in sorted(node)]
    return {k: _lists(v) for k, v in node.items()}


def _typed(name: str, value: Any) -> Any:
    """A form string as the API's type: ints stay text when they are not numbers, so the
    API names the mistake at the field."""
    if isinstance(value, dict):
        return {k: _typed(k, v) for k, v in value.items()}
    if isinstance(value, list):
        return [_typed(name, v) for v in value]
    text = value.strip()
    if name in _FLAGS:
        return text in ("on", "true", "1")
    if name in _LISTS:
        return [part.strip() for part in text.split(",") if part.strip()]
    if name in _INTEGERS:
        if text == "":
            return None
        return int(text) if re.fullmatch(r"-?\d{1,18}", text) else text
    return text


def _thresholds(text: str) -> list[dict[str, Any]]:
    """'90 notify, 100 pause' -> [{at: 90, action: notify}, {at: 100, action: pause}]."""
    found: list[dict[str, Any]] = []
    for part in text.split(","):
        if not part.strip():
            continue
        match = _THRESHOLD.match(part)
        at, action = (match.groups() if match else (part.strip(), ""))
        found.append({"at": _typed("at", at), "action": action})
    return found


def thresholds_text(budget: Any) -> str:
    if not isinstance(budget, dict) or "thresholds" not in budget:
        return ""
    return ", ".join(f"{t.get('at')} {t.get('action', 'notify')}"
                     for t in budget["thresholds"])


def _clean(document: dict[str, Any]) -> dict[str, Any]:
    """Empty optional fields left out (the API's defaults), as a YAML author would."""
    for name in ("daily_click_cap", "daily_conversion_cap"):
        if document.get(name) is None:
            document.pop(name, None)
    for section in ("schedule", "bot_policy"):
        part = {k: v for k, v in (document.get(section) or {}).items() if v not in ("", None)}
        document[section] = part
    budget = _budget(document.get("budget"))
    if budget is None:
        document.pop("budget", None)
    else:
        document["budget"] = budget
    for rule in document.get("rules", ()):
        if rule.get("priority") is None:
            rule.pop("priority", None)
        for condition in rule.get("conditions", ()):
            if not condition.get("param"):
                condition.pop("param", None)
        for destination in rule.get("destinations", ()):
            _clean_destination(destination)
    for destination in document.get("default", ()):
        _clean_destination(destination)
    return document


def _budget(budget: Any) -> Any:
    """The budget to send: None for none; a stored bare amount as it is; the form's
    thresholds text parsed (left out: the defaults)."""
    if not isinstance(budget, dict):
        return budget or None
    amount = budget.get("amount", "")
    if amount in ("", None):
        return None
    shaped: dict[str, Any] = {"amount": amount, "period": budget.get("period") or "total"}
    thresholds = budget.get("thresholds")
    if isinstance(thresholds, str):
        if thresholds.strip():
            shaped["thresholds"] = _thresholds(thresholds)
    elif thresholds is not None:
        shaped["thresholds"] = thresholds
    return shaped


def _clean_destination(destination: dict[str, Any]) -> None:
    for name in ("ref", "url"):
        if not destination.get(name):
            destination.pop(name, None)
    if destination.get("weight") is None:
        destination.pop("weight", None)


def submitted(form: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """The edited fields of a submitted editor form (csrf, revision, op left out)."""
    fields = [(k, v) for k, v in form if k not in ("csrf", "revision", "op")]
    document = _typed("", nest(fields))
    # An unticked checkbox sends nothing, which is its default (false); a form without
    # rules or a default path sends nothing for them either.
    for key in ("rules", "default"):
        document.setdefault(key, [])
    return document


def document(stored: Mapping[str, Any], edited: dict[str, Any]) -> dict[str, Any]:
    """The campaign to PUT: the stored one with the editor's fields replaced."""
    out = {k: copy.deepcopy(v) for k, v in stored.items() if k not in ("revision",)}
    for name in EDITED:
        if name in edited:
            out[name] = copy.deepcopy(edited[name])
    return _clean(out)


def _blank_destination(siblings: list[Any]) -> dict[str, Any]:
    taken = {d.get("id") for d in siblings}
    number = len(siblings) + 1
    while f"d{number}" in taken:
        number += 1
    return {"id": f"d{number}", "kind": "offer", "ref": "", "weight": 1}


def apply(edited: dict[str, Any], op: str) -> dict[str, Any]:
    """`add:<list path>` or `remove:<item path>` on the edited document."""
    verb, _, path = op.partition(":")
    parts = parse_path(path)
    if verb == "add":
        target = _at(edited, parts, create=True)
        if not isinstance(target, list):
            raise FormError(f"{path!r} is not a list")
        leaf = parts[-1]
        if leaf == "rules":
            taken = {r.get("id") for r in target}
            number = len(target) + 1
            while f"rule-{number}" in taken:
                number += 1
            target.append({"id": f"rule-{number}", "name": "", "conditions": [],
                           "destinations": [_blank_destination([])]})
        elif leaf == "conditions":
            target.append({"kind": "country", "values": [], "negate": False})
        elif leaf in ("destinations", "default"):
            target.append(_blank_destination(target))
        else:
            raise FormError(f"cannot add to {path!r}")
    elif verb == "remove":
        if not parts or not isinstance(parts[-1], int):
            raise FormError(f"{path!r} is not an item")
        target = _at(edited, parts[:-1], create=False)
        if isinstance(target, list) and parts[-1] < len(target):
            del target[parts[-1]]
    else:
        raise FormError(f"unknown form operation {op!r}")
    return edited


def _at(node: Any, parts: list[str | int], create: bool) -> Any:
    for i, part in enumerate(parts):
        if isinstance(part, int):
            if not isinstance(node, list) or part >= len(node):
                raise FormError("no such item")
            node = node[part]
        else:
            if not isinstance(node, dict):
                raise FormError("no such field")
            if part not in node and create and i == len(parts) - 1:
                node[part] = []
            node = node.get(part)
    return node


def placed(problems: Mapping[str, str], fields: Iterable[str]) -> tuple[dict[str, str],
                                                                       dict[str, str]]:
    """Each problem at the form field it is about (the longest field name its path starts
    with), and those no field takes."""
    names = sorted(set(fields), key=len, reverse=True)
    at: dict[str, str] = {}
    loose: dict[str, str] = {}
    for path, message in problems.items():
        field = next((n for n in names if path == n or path.startswith((n + ".", n + "["))),
                     None)
        if field is None:
            loose[path] = message
        else:
            at[field] = f"{at[field]}; {message}" if field in at else message
    return at, loose
