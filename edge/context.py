"""State the edge hands to the browser instead of keeping it: the LP-click context cookie
and the double-meta hop token, both signed (edge.signing)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import msgspec

from turnout.edge.signing import Signer

CONTEXT_COOKIE: Final = "tc"
MAX_CONTEXTS: Final = 3  # recent campaign clicks a visitor can continue from a lander


class LanderContext(msgspec.Struct, array_like=True, frozen=True):
    """A campaign click that went to a lander or funnel: what /click needs to continue."""

    click_id: str
    campaign_id: str
    graph_version: int
    rule_id: str
    destination_id: str
    step: int  # lander clicks already made on this path (0 on the first lander)
    ts_ms: int


_CONTEXTS = msgspec.json.Decoder(list[LanderContext])
_ENCODER = msgspec.json.Encoder()
_HOP = msgspec.json.Decoder(tuple[int, str])


class ContextCodec:
    def __init__(self, secrets: bytes | Sequence[bytes]) -> None:
        """`secrets`: the first signs, all verify (edge.signing)."""
        self._cookie = Signer(secrets, "turnout-lp-context")
        self._hop = Signer(secrets, "turnout-double-meta")

    def encode_contexts(self, contexts: list[LanderContext]) -> str:
        return self.seal_contexts(contexts).decode("ascii")

    def seal_contexts(self, contexts: list[LanderContext]) -> bytes:
        """`encode_contexts` as ASCII bytes, for the Set-Cookie header."""
        return self._cookie.seal(_ENCODER.encode(contexts[-MAX_CONTEXTS:]))

    def decode_contexts(self, token: str) -> list[LanderContext]:
        """The contexts in the cookie, oldest first; [] when missing, invalid or forged."""
        payload = self._cookie.unsign(token)
        if payload is None:
            return []
        try:
            return _CONTEXTS.decode(payload)
        except msgspec.DecodeError:
            return []

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
