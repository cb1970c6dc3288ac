"""Which tracking domain a request came to: the codes it serves, its fallback, its cookies.

A workspace's own domains serve its codes and nothing else; every other host is the
default domain, serving the codes of workspaces without domains, with the edge's default
workspace answering unknown codes. Cookies are host-only on a workspace's domain: a
`Domain` attribute there would hand one customer's visitor and lander cookies to every
host under it. The edge-wide `TURNOUT_EDGE_COOKIE_DOMAIN` applies to default-domain hosts
inside it, and only while no workspace's domain is inside it too.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Final

from turnout.config.compiled import CompiledCampaign, CompiledGraph, CompiledWorkspace
from turnout.config.domains import DEFAULT_DOMAIN, host_name
from turnout.edge.graph import Snapshot

log = logging.getLogger(__name__)

_NO_CODES: Final[dict[str, CompiledCampaign]] = {}


def cookie_suffix(domain: str, secure: bool) -> str:
    """The attributes after a cookie's value (and Max-Age), with `Domain` when given."""
    suffix = "; Path=/; SameSite=Lax; HttpOnly"
    if domain:
        suffix += f"; Domain={domain}"
    if secure:
        suffix += "; Secure"
    return suffix


def within(host: str, domain: str) -> bool:
    """Whether a cookie for `domain` is sent to `host` (RFC 6265 domain-match)."""
    return host == domain or host.endswith("." + domain)


@dataclass(frozen=True, slots=True, eq=False)
class Site:
    """A tracking domain as one snapshot serves it (compared by identity)."""

    domain: str  # DEFAULT_DOMAIN for every host no workspace claims
    codes: dict[str, CompiledCampaign]
    fallback: CompiledWorkspace | None  # whose fallback URL answers unknown codes
    cookie_suffix: str


class SiteMap:
    """The sites of one snapshot; `site(host)` is a dict get (two for the default domain)."""

    def __init__(self, snapshot: Snapshot, cookie_domain: str, secure: bool) -> None:
        graph = snapshot.graph
        self.snapshot = snapshot
        host_only = cookie_suffix("", secure)
        self._sites = {
            domain: Site(domain, graph.codes.get(domain, _NO_CODES), workspace, host_only)
            for domain, workspace in graph.workspaces_by_domain.items()
        }
        codes = graph.campaigns_by_code
        self._default = Site(DEFAULT_DOMAIN, codes, snapshot.fallback_workspace, host_only)
        self._cookie_domain = _shared_cookie_domain(graph, cookie_domain.lower().lstrip("."))
        self._shared = Site(DEFAULT_DOMAIN, codes, snapshot.fallback_workspace,
                            cookie_suffix(cookie_domain, secure))

    def site(self, host: str) -> Site:
        """The site of a Host (as `config.domains.host_name` gives it)."""
        site = self._sites.get(host)
        if site is not None:
            return site
        if self._cookie_domain and within(host, self._cookie_domain):
            return self._shared
        return self._default

    def of_header(self, raw: bytes) -> Site:
        return self.site(host_name(raw))


def _shared_cookie_domain(graph: CompiledGraph, cookie_domain: str) -> str:
    """`cookie_domain` if no workspace's domain lies inside it, else "" (host-only)."""
    inside = sorted(d for d in graph.workspaces_by_domain if within(d, cookie_domain))
    if cookie_domain and inside:
        log.warning("cookie domain %s covers the tracking domains %s of workspaces: cookies "
                    "stay host-only (graph version %d)", cookie_domain, ", ".join(inside),
                    graph.version)
        return ""
    return cookie_domain


class Sites:
    """The SiteMap of whichever snapshot a handler serves, rebuilt once per snapshot."""

    def __init__(self, cookie_domain: str, secure: bool) -> None:
        self._cookie_domain = cookie_domain
        self._secure = secure
        self._map: SiteMap | None = None

    def map(self, snapshot: Snapshot) -> SiteMap:
        current = self._map
        if current is None or current.snapshot is not snapshot:
            current = self._map = SiteMap(snapshot, self._cookie_domain, self._secure)
        return current
