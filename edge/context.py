"""State the edge hands to the browser instead of keeping it: the LP-click context (as the
`tc` cookie, or as a signed `cid` the lander passes back) and the double-meta hop token,
all signed (edge.signing)."""

from __future__ import annotations

from collections.abc import Container, Sequence
from typing import Final

import msgspec

from turnout.edge.signing import Signer

CONTEXT_COOKIE: Final = "tc"
MAX_CONTEXTS: Final = 3  # recent campaign clicks a visitor can continue from a lander
# A browser keeps a cookie of up to 4096 bytes (name, value and attributes); the request
# header also carries tv and tu. A longer context cookie drops what it cannot hold.
MAX_COOKIE_TOKEN: Final = 3000
# /click answers 414 past TURNOUT_EDGE_MAX_URL_BYTES (4096 by default): a signed cid
# leaves room for the rest of the CTA URL.
MAX_CID_TOKEN: Final = 1536


class LanderContext(msgspec.Struct, array_like=True, frozen=True):
    """A campaign click that went to a lander or funnel: what /click needs to continue."""

    click_id: str
    campaign_id: str
    graph_version: int
    rule_id: str
    destination_id: str
    step: int  # lander clicks already made on this path (0 on the first lander)
    ts_ms: int
    # The campaign click's query, so the offer URL and the LP click get its sub-ids and
    # values. Last, with a default: contexts signed before it existed still decode.
    params: dict[str, str] = {}

    def without_params(self, keep: Container[str] = ()) -> LanderContext:
        """This context carrying only the parameters named in `keep`."""
        return msgspec.structs.replace(
            self, params={k: v for k, v in self.params.items() if k in keep})


_CONTEXTS = msgspec.json.Decoder(list[LanderContext])
_CONTEXT = msgspec.json.Decoder(LanderContext)
_ENCODER = msgspec.json.Encoder()
_HOP = msgspec.json.Decoder(tuple[int, str])


def _wire(context: LanderContext) -> tuple[object, ...]:
    """The context as the array it is signed as; without parameters it is exactly the
    7-field array issued before they existed, so those tokens stay the same bytes."""
    fields = msgspec.structs.astuple(context)
    return fields if context.params else fields[:-1]


def _encode(contexts: list[LanderContext]) -> bytes:
    for context in contexts:
        if not context.params:
            return _ENCODER.encode([_wire(c) for c in contexts])
    return _ENCODER.encode(contexts)  # the usual click, with a query: no tuples to build


class ContextCodec:
    def __init__(self, secrets: bytes | Sequence[bytes]) -> None:
        """`secrets`: the first signs, all verify (edge.signing)."""
        self._cookie = Signer(secrets, "turnout-lp-context")
        self._hop = Signer(secrets, "turnout-double-meta")
        self._cid = Signer(secrets, "turnout-lp-cid")

    def encode_contexts(self, contexts: list[LanderContext], keep: Container[str] = ()) -> str:
        return self.seal_contexts(contexts, keep).decode("ascii")

    def seal_contexts(self, contexts: list[LanderContext], keep: Container[str] = ()) -> bytes:
        """`encode_contexts` as ASCII bytes, for the Set-Cookie header.

        Past MAX_COOKIE_TOKEN the older contexts go first, then the newest one's
        parameters other than `keep` (those that fill sub-ids, cost and external_id),
        then all of them: the visitor can always go on, with fewer values if need be."""
        contexts = contexts[-MAX_CONTEXTS:]
        token = self._cookie.seal(_encode(contexts))
        if len(token) <= MAX_COOKIE_TOKEN:
            return token
        newest = contexts[-1]
        for fitted in (newest, newest.without_params(keep), newest.without_params()):
            token = self._cookie.seal(_encode([fitted]))
            if len(token) <= MAX_COOKIE_TOKEN:
                break
        return token

    def decode_contexts(self, token: str) -> list[LanderContext]:
        """The contexts in the cookie, oldest first; [] when missing, invalid or forged."""
        payload = self._cookie.unsign(token)
        if payload is None:
            return []
        try:
            return _CONTEXTS.decode(payload)
        except msgspec.DecodeError:
            return []

    def cid_token(self, context: LanderContext, keep: Container[str] = ()) -> str:
        """`context` as a signed `cid` for /click, for visitors without the cookie (the
        `{lp_cid}` macro); shortened like the cookie past MAX_CID_TOKEN."""
        for fitted in (context, context.without_params(keep), context.without_params()):
            token = self._cid.sign(_ENCODER.encode(_wire(fitted)))
            if len(token) <= MAX_CID_TOKEN:
                break
        return token

    def decode_cid(self, token: str) -> LanderContext | None:
        """The context of a signed `cid` we issued; None when invalid or forged."""
        payload = self._cid.unsign(token)
        if payload is None:
            return None
        try:
            return _CONTEXT.decode(payload)
        except msgspec.DecodeError:
            return None

    def hop_token(self, url: str, expires_ms: int) -> str:
        return self._hop.sign(_ENCODER.encode((expires_ms, url)))

    def hop_url(self, token: str, now_ms: int) -> str | None:
        """The destination of a hop token that we signed and that has not expired."""
        payload = self._hop.unsign(token)
        if payload is None:
            return None
        try:
            expires_ms, url = _HOP.decode(payload)
        except msgspec.DecodeError:
            return None
        return url if now_ms <= expires_ms else None


def with_context(contexts: list[LanderContext], new: LanderContext) -> list[LanderContext]:
    """`contexts` with `new` as the latest, replacing an older entry for the same click."""
    kept = [c for c in contexts if c.click_id != new.click_id]
    kept.append(new)
    return kept[-MAX_CONTEXTS:]
