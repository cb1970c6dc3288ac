"""One pass over a request's headers: who is asking, from where, with what browser.

Everything costly (address parsing, GeoIP, user-agent parsing, Accept-Language) is
cached per distinct input, so a repeat visitor costs a few dict hits.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

from edge import bots
from edge.addresses import ProxyTrust, contains
from edge.errors import BadInput
from edge.geo import GeoIP, Place
from edge.inputs import cookie, primary_language, referrer_domain
from edge.useragent import Agent, UserAgents
from turnout import clickid

VISITOR_COOKIE = "tv"
_NOWHERE = Place(ip=0, version=4, text="", anonymised="")
_MAX_UA = 1024


class Observation:
    __slots__ = ("agent", "cookies", "language", "new_visitor", "place", "prefetch",
                 "referrer_domain", "user_agent", "visitor_id")

    def __init__(self, place: Place, agent: Agent, user_agent: str, language: str,
                 referrer: str, cookies: str, visitor_id: str, new_visitor: bool,
                 prefetch: bool) -> None:
        self.place = place
        self.agent = agent
        self.user_agent = user_agent
        self.language = language
        self.referrer_domain = referrer
        self.cookies = cookies
        self.visitor_id = visitor_id
        self.new_visitor = new_visitor
        self.prefetch = prefetch

    def bot_reason(self, workspace_masks: tuple[tuple[int, int, int], ...] = ()) -> str:
        reason = self.agent.bot_reason
        if reason:
            return reason
        if self.prefetch:
            return bots.PREFETCH
        place = self.place
        if place.bot_range or (
            workspace_masks and contains(workspace_masks, place.version, place.ip)
        ):
            return bots.IP_RANGE
        return ""


def valid_visitor_id(text: str) -> bool:
    if len(text) != clickid.LENGTH:
        return False
    try:
        clickid.decode(text)
    except clickid.ClickIdError:
        return False
    return True


class Observer:
    def __init__(self, geo: GeoIP, agents: UserAgents, trust: ProxyTrust, ids: clickid.ClickIds,
                 max_header_bytes: int = 8192) -> None:
        self._place = geo.place
        self._agent = agents.parse
        self._trust = trust
        self._ids = ids
        self._max_header = max_header_bytes

    def client(self, scope: MutableMapping[str, Any]) -> str:
        """The client address of a request (trusted X-Forwarded-For applied), as text."""
        client = scope.get("client")
        peer = client[0] if client else ""
        forwarded = ",".join(
            value.decode("latin-1") for name, value in scope["headers"]
            if name == b"x-forwarded-for"
        )
        return self._trust.client(peer, forwarded[: self._max_header]) if forwarded else peer

    def observe(self, scope: MutableMapping[str, Any], now_ms: int) -> Observation:
        ua = forwarded = cookies = accept_language = referer = sec_purpose = purpose = ""
        limit = self._max_header
        for name, value in scope["headers"]:
            if len(value) > limit:
                raise BadInput(431, "request header too large")
            if name == b"user-agent":
                ua = value.decode("latin-1")
            elif name == b"x-forwarded-for":
                text = value.decode("latin-1")
                forwarded = f"{forwarded},{text}" if forwarded else text
            elif name == b"cookie":
                text = value.decode("latin-1")
                cookies = f"{cookies}; {text}" if cookies else text
            elif name == b"accept-language":
                accept_language = value.decode("latin-1")
            elif name == b"referer":
                referer = value.decode("latin-1")
            elif name == b"sec-purpose":
                sec_purpose = value.decode("latin-1")
            elif name == b"purpose":
                purpose = value.decode("latin-1")
        if len(forwarded) > limit or len(cookies) > limit:
            raise BadInput(431, "request header too large")
        client = scope.get("client")
        peer = client[0] if client else ""
        address = self._trust.client(peer, forwarded) if forwarded else peer
        place = self._place(address) or _NOWHERE
        visitor_id = cookie(cookies, VISITOR_COOKIE) if cookies else ""
        new_visitor = not (visitor_id and valid_visitor_id(visitor_id))
        visitor_id = self._ids.new(now_ms) if new_visitor else visitor_id.upper()
        return Observation(
            place=place,
            agent=self._agent(ua[:_MAX_UA]),
            user_agent=ua[:_MAX_UA],
            language=primary_language(accept_language) if accept_language else "",
            referrer=referrer_domain(referer) if referer else "",
            cookies=cookies,
            visitor_id=visitor_id,
            new_visitor=new_visitor,
            prefetch=bool(sec_purpose or purpose) and bots.is_prefetch(sec_purpose, purpose),
        )
