"""Tracking domains: the host names workspaces own, in the one form the edge compares.

A workspace may list the domains its tracking links use; `/c/{code}` then resolves the code
among that workspace's campaigns when the request's Host is one of them. Every host no
workspace claims is the default domain, which serves the codes of workspaces without
domains. Names are compared as browsers send them in `Host`: lower-case ASCII (IDNA
A-labels for internationalised names), without a port or a trailing dot.
"""

from __future__ import annotations

import re
from typing import Final

# The key of the default domain in the compiled code index (no real host name is empty).
DEFAULT_DOMAIN: Final = ""
_LABEL: Final = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_MAX_NAME: Final = 253


def normal_domain(text: str) -> str:
    """`text` as a tracking domain: lower-case, IDNA-encoded, no trailing dot.

    Raises ValueError saying what is wrong: a scheme, path or port (the edge ignores the
    Host's port, so a domain with one would claim less than it seems to), or a name that is
    not a host name.
    """
    if not text or text != text.strip():
        raise ValueError("must be a host name without spaces")
    if "/" in text:
        raise ValueError("a host name only, without a scheme or a path")
    if ":" in text:
        raise ValueError("a host name only, without a port (the edge ignores the Host's port)")
    try:
        name = text.rstrip(".").encode("idna").decode("ascii").lower()
    except UnicodeError:
        raise ValueError("not a valid (internationalised) host name") from None
    if not name or len(name) > _MAX_NAME or not all(
        _LABEL.fullmatch(label) for label in name.split(".")
    ):
        raise ValueError("not a host name (labels of letters, digits and inner hyphens)")
    return name


def host_name(raw: bytes) -> str:
    """A request's Host value as a domain to look up: lower-case, port and trailing dot
    dropped; an IPv6 literal keeps its brackets. Browsers send A-labels already."""
    text = raw.decode("latin-1").strip().lower()
    if text.startswith("["):
        end = text.find("]")
        return text[: end + 1] if end > 0 else ""
    return text.partition(":")[0].rstrip(".")
