"""Tamper-evident tokens: payload + a keyed MAC, so the edge needs no server-side state.

The MAC is keyed BLAKE2b (a MAC by design, no HMAC construction needed) with a 128-bit
tag: about three times cheaper than HMAC-SHA256 here, and only the edge ever checks it.
Text form: base64url(payload) "." base64url(tag). Every use has
its own key derived from the secret and a purpose, so a token minted for one purpose
(a double-meta hop) is never accepted for another (the LP-click cookie).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from typing import Final

_MAC_BYTES: Final = 16
MAX_TOKEN: Final = 4096


_URLSAFE: Final = bytes.maketrans(b"+/", b"-_")


def _b64(data: bytes) -> bytes:
    # base64.urlsafe_b64encode without its Python-level calls, the padding and the
    # newline (cheaper to strip than to ask for without), as bytes: a signed cookie per
    # click makes this hot.
    return binascii.b2a_base64(data).translate(_URLSAFE).rstrip(b"=\n")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Signer:
    __slots__ = ("_key", "_keyed")

    def __init__(self, secret: bytes, purpose: str) -> None:
        if not secret:
            raise ValueError("a signing secret is required")
        root = hashlib.blake2b(secret, digest_size=64, person=b"turnout-secret").digest()
        self._key = hashlib.blake2b(purpose.encode(), key=root, digest_size=32,
                                    person=b"turnout-sign").digest()
        # A keyed BLAKE2b hashes the key as its first block; copying a state that already
        # has costs a third less than starting from the key for every token.
        self._keyed = hashlib.blake2b(key=self._key, digest_size=_MAC_BYTES)

    def _mac(self, payload: bytes) -> bytes:
        state = self._keyed.copy()
        state.update(payload)
        return state.digest()

    def sign(self, payload: bytes) -> str:
        return self.seal(payload).decode("ascii")

    def seal(self, payload: bytes) -> bytes:
        """`sign`'s token as ASCII bytes, for a caller that writes it into a header."""
        return _b64(payload) + b"." + _b64(self._mac(payload))

    def unsign(self, token: str) -> bytes | None:
        """The payload, or None when the token is malformed or was not signed by us."""
        if not token or len(token) > MAX_TOKEN or token.count(".") != 1:
            return None
        body, mac = token.split(".")
        try:
            payload = _unb64(body)
            given = _unb64(mac)
        except ValueError:
            return None
        if not hmac.compare_digest(given, self._mac(payload)):
            return None
        return payload
