"""One pass over a request's headers: who is asking, from where, with what browser.

Everything derived from a header is cached per raw header value (the bytes as they
arrived, before any decoding): the client's Place per (peer, X-Forwarded-For), the Agent
and its text per User-Agent, the language per Accept-Language, the referrer's domain per
Referer. A repeat visitor costs the header loop and a cache hit per header.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from functools import lru_cache
from typing import Any, Final

import msgspec

from turnout import clickid
from turnout.edge import bots
from turnout.edge.addresses import ProxyTrust
from turnout.edge.errors import BadInput
from turnout.edge.geo import GeoIP, Place
from turnout.edge.inputs import cookie, primary_language, referrer_domain
from turnout.edge.useragent import Agent, UserAgents
from turnout.splitter.cidr import CidrIndex
from turnout.splitter.types import Visitor

VISITOR_COOKIE = "tv"
_NOWHERE = Place(ip=0, version=4, text="", anonymised="")
_NO_RANGES: Final = CidrIndex()
_MAX_UA = 1024
# Header name -> what observe() keeps of it; every other header costs one dict miss.
_UA, _FORWARDED, _COOKIE, _LANGUAGE, _REFERER, _PURPOSE, _HOST, _FORWARDED_HOST = range(8)
_WANTED: Final = {
    b"user-agent": _UA, b"x-forwarded-for": _FORWARDED, b"cookie": _COOKIE,
    b"accept-language": _LANGUAGE, b"referer": _REFERER, b"sec-purpose": _PURPOSE,
    b"purpose": _PURPOSE, b"host": _HOST, b"x-forwarded-host": _FORWARDED_HOST,
}


class Observation(msgspec.Struct, frozen=True, gc=False):
    """What one request says about its visitor. A Struct: built in C, one per click (it
    holds no containers, so the collector need not track it)."""

    place: Place
    agent: Agent
    user_agent: str
    language: str
    referrer_domain: str
    cookies: str
    visitor_id: str
    new_visitor: bool
    prefetch: bool
    # The Host header as it arrived (X-Forwarded-Host's last entry when a trusted proxy
    # sent one): the tracking domain, undecoded (edge.sites looks it up).
    host: bytes = b""

    def bot_reason(self, workspace_ranges: CidrIndex = _NO_RANGES) -> str:
        """Why this request is not a person's ("" when it is); `workspace_ranges` are the
        campaign's workspace bot ranges (`CompiledWorkspace.bot_index`)."""
        reason = self.agent.bot_reason
        if reason:
            return reason
        if self.prefetch:
            return bots.PREFETCH
        place = self.place
        if place.bot_range or workspace_ranges.contains(place.version, place.ip):
            return bots.IP_RANGE
        return ""


class SeenVisitor(Visitor):
    """The splitter's Visitor for one request, reading through to its Observation.

    Building the 14-field frozen dataclass cost more than the whole decision; the
    splitter reads two or three attributes, so each is a property over what observe()
    already holds, and only the three per-request fields are stored.
    """

    __slots__ = ("_seen",)

    def __init__(self, seen: Observation, query: dict[str, str], is_bot: bool) -> None:
        # The slots' own setters: what object.__setattr__ ends up calling, minus the
        # lookups that get past the frozen dataclass's __setattr__.
        _set_seen(self, seen)
        _set_query(self, query)
        _set_is_bot(self, is_bot)

    # mypy sees read-only dataclass fields overridden by read-only properties: allowed.
    visitor_id = property(lambda self: self._seen.visitor_id)  # type: ignore[assignment]
    country = property(lambda self: self._seen.place.country)  # type: ignore[assignment]
    region = property(lambda self: self._seen.place.region)  # type: ignore[assignment]
    city = property(lambda self: self._seen.place.city)  # type: ignore[assignment]
    device = property(lambda self: self._seen.agent.device)  # type: ignore[assignment]
    os = property(lambda self: self._seen.agent.os)  # type: ignore[assignment]
    browser = property(lambda self: self._seen.agent.browser)  # type: ignore[assignment]
    language = property(lambda self: self._seen.language)  # type: ignore[assignment]
    ip = property(lambda self: self._seen.place.ip)  # type: ignore[assignment]
    ip_version = property(lambda self: self._seen.place.version)  # type: ignore[assignment]
    asn = property(lambda self: self._seen.place.asn)  # type: ignore[assignment]
    referrer_domain = property(  # type: ignore[assignment]
        lambda self: self._seen.referrer_domain
    )


_set_seen = SeenVisitor._seen.__set__  # type: ignore[attr-defined]
_set_query = Visitor.query.__set__  # type: ignore[attr-defined]
_set_is_bot = Visitor.is_bot.__set__  # type: ignore[attr-defined]


def valid_visitor_id(text: str) -> bool:
    if len(text) != clickid.LENGTH:
        return False
    try:
        clickid.decode(text)
    except clickid.ClickIdError:
        return False
    return True


def _joined(first: bytes, separator: bytes, more: bytes, limit: int) -> bytes:
    """A repeated header's values as one, which may be no longer than one header."""
    joined = first + separator + more
    if len(joined) > limit:
        raise BadInput(431, "request header too large")
    return joined


class Observer:
    def __init__(self, geo: GeoIP, agents: UserAgents, trust: ProxyTrust, ids: clickid.ClickIds,
                 max_header_bytes: int = 8192, cache_size: int = 65536) -> None:
        self._place = geo.place
        self._agent = agents.parse
        self._trust = trust
        self._ids = ids
        self._max_header = max_header_bytes
        self._locate = lru_cache(maxsize=cache_size)(self._locate_uncached)
        self._identify = lru_cache(maxsize=cache_size)(self._identify_uncached)
        self._language = lru_cache(maxsize=4096)(self._language_uncached)
        # Referer headers can be long (up to max_header_bytes): fewer of them are kept.
        self._referrer = lru_cache(maxsize=1024)(self._referrer_uncached)

    def client(self, scope: MutableMapping[str, Any]) -> str:
        """The client address of a request (trusted X-Forwarded-For applied), as text."""
        client = scope.get("client")
        peer = client[0] if client else ""
        forwarded = ",".join(
            value.decode("latin-1") for name, value in scope["headers"]
            if name == b"x-forwarded-for"
        )
        return self._trust.client(peer, forwarded[: self._max_header]) if forwarded else peer

    def _locate_uncached(self, peer: str, forwarded: bytes) -> Place:
        address = self._trust.client(peer, forwarded.decode("latin-1")) if forwarded else peer
        return self._place(address) or _NOWHERE

    def _identify_uncached(self, raw: bytes) -> tuple[Agent, str]:
        text = raw.decode("latin-1")[:_MAX_UA]
        return self._agent(text), text

    @staticmethod
    def _language_uncached(raw: bytes) -> str:
        return primary_language(raw.decode("latin-1"))

    @staticmethod
    def _referrer_uncached(raw: bytes) -> str:
        return referrer_domain(raw.decode("latin-1"))

    def observe(self, scope: MutableMapping[str, Any], now_ms: int) -> Observation:
        ua = forwarded = cookies = language = referer = purpose = host = forwarded_host = b""
        limit = self._max_header
        wanted = _WANTED.get
        for name, value in scope["headers"]:
            if len(value) > limit:
                raise BadInput(431, "request header too large")
            slot = wanted(name)
            if slot is None:
                continue
            if slot == _UA:
                ua = value
            elif slot == _FORWARDED:
                forwarded = _joined(forwarded, b",", value, limit) if forwarded else value
            elif slot == _LANGUAGE:
                language = value
            elif slot == _COOKIE:
                cookies = _joined(cookies, b"; ", value, limit) if cookies else value
            elif slot == _HOST:
                host = value
            elif slot == _REFERER:
                referer = value
            elif slot == _FORWARDED_HOST:
                forwarded_host = value
            else:
                purpose = purpose + b"," + value if purpose else value
        client = scope.get("client")
        peer = client[0] if client else ""
        place = self._locate(peer, forwarded)
        if forwarded_host and self._trust.is_trusted(peer):
            # Like X-Forwarded-For, only the entry our own proxy wrote (the last) is believed.
            host = forwarded_host.rpartition(b",")[2].strip()
        agent, user_agent = self._identify(ua)
        if cookies:
            cookie_text = cookies.decode("latin-1")
            known = cookie(cookie_text, VISITOR_COOKIE)
            if known and valid_visitor_id(known):
                return Observation(
                    place, agent, user_agent, self._language(language) if language else "",
                    self._referrer(referer) if referer else "",
                    cookie_text, known.upper(), False,
                    bool(purpose) and bots.is_prefetch(purpose.decode("latin-1"), ""), host,
                )
        else:
            cookie_text = ""
        return Observation(
            place, agent, user_agent, self._language(language) if language else "",
            self._referrer(referer) if referer else "",
            cookie_text, self._ids.new(now_ms), True,
            bool(purpose) and bots.is_prefetch(purpose.decode("latin-1"), ""), host,
        )
