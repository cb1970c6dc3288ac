"""Checks of the graph's credentials: network secrets and HMAC keys, workspace pixel keys.

Each credential names exactly one network or workspace, so every one must be distinct
across the whole graph (every workspace): a postback authenticated by a secret two networks
share could be booked to either, and a pixel key is public, so a secret equal to one is too.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Final
from urllib.parse import urlsplit

from turnout.config.errors import Problem
from turnout.config.model import Graph, Workspace

PIXEL_KEY: Final = re.compile(r"[A-Za-z0-9_-]{16,128}")


def normal_origin(text: str) -> str | None:
    """`text` as a browser writes it in an Origin header (scheme://host[:port], lower
    case, no default port); None when it is not an http(s) origin."""
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        return None
    if (parts.scheme not in ("http", "https") or not parts.hostname or parts.path
            or parts.query or parts.fragment or parts.username or parts.password
            or "@" in parts.netloc):
        return None
    default = 80 if parts.scheme == "http" else 443
    suffix = "" if port is None or port == default else f":{port}"
    host = parts.hostname
    if ":" in host:  # an IPv6 literal keeps its brackets
        host = f"[{host}]"
    return f"{parts.scheme}://{host}{suffix}"


def _credentials(graph: Graph) -> Iterator[tuple[str, str]]:
    for i, network in enumerate(graph.networks):
        yield f"networks[{i}].secret", network.secret
        if network.hmac_key is not None:
            yield f"networks[{i}].hmac_key", network.hmac_key
    for i, workspace in enumerate(graph.workspaces):
        if workspace.pixel_key is not None:
            yield f"workspaces[{i}].pixel_key", workspace.pixel_key


def duplicate_credentials(graph: Graph) -> list[Problem]:
    """A problem at every credential that an earlier one of the graph already uses."""
    first: dict[str, str] = {}
    problems = []
    for path, value in _credentials(graph):
        if value in first:
            problems.append(Problem(path, f"already used by {first[value]}: every secret, "
                                          "signing key and pixel key must be different"))
        else:
            first[value] = path
    return problems


def pixel_problems(path: str, workspace: Workspace) -> list[Problem]:
    problems = []
    key, origins = workspace.pixel_key, workspace.pixel_origins
    if key is not None and PIXEL_KEY.fullmatch(key) is None:
        problems.append(Problem(f"{path}.pixel_key", "must be 16-128 of A-Z a-z 0-9 _ -"))
    if key is not None and not origins:
        problems.append(Problem(f"{path}.pixel_origins",
                                "required with pixel_key: the pages allowed to use it"))
    if key is None and origins:
        problems.append(Problem(f"{path}.pixel_key", "required with pixel_origins"))
    seen: set[str] = set()
    for i, origin in enumerate(origins):
        normal = normal_origin(origin)
        if normal is None or normal != origin:
            meant = normal_origin(origin.rstrip("/"))  # a trailing slash is the usual slip
            hint = f" (write {meant!r})" if meant is not None else ""
            problems.append(Problem(f"{path}.pixel_origins[{i}]",
                                    f"must be an origin like https://shop.example.com{hint}"))
        elif origin in seen:
            problems.append(Problem(f"{path}.pixel_origins[{i}]", f"duplicate {origin!r}"))
        seen.add(origin)
    return problems
