"""Workspace API keys: bearer tokens whose sha256 digests are configured, never the tokens.

`TURNOUT_API_KEYS` (or the file named by `TURNOUT_API_KEYS_FILE`) holds one key per line
(commas work too): `workspace_id:sha256hex-of-token`; `#` starts a comment. A presented
token is hashed and compared with every digest in constant time, so neither the match nor
its position leaks through timing.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from typing import Final

from turnout.env import SettingError

TOKEN_PREFIX: Final = "tok_"
_LINE: Final = re.compile(r"^([A-Za-z0-9_.-]+):([0-9a-fA-F]{64})$")


@dataclass(frozen=True, slots=True)
class ApiKey:
    workspace: str
    digest: bytes


def digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def key_line(workspace: str, token: str) -> str:
    return f"{workspace}:{digest(token).hex()}"


def parse_keys(text: str | None) -> tuple[ApiKey, ...]:
    keys = []
    for raw in (text or "").replace(",", "\n").splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        match = _LINE.match(line)
        if match is None:
            raise SettingError("TURNOUT_API_KEYS: expected lines workspace_id:sha256hex, got "
                               f"{line[:20]!r}…")
        keys.append(ApiKey(match.group(1), bytes.fromhex(match.group(2))))
    return tuple(keys)


class KeyRing:
    def __init__(self, keys: tuple[ApiKey, ...]) -> None:
        self.keys = keys

    def workspace_for(self, token: str) -> str | None:
        presented = digest(token)
        found = None
        for key in self.keys:  # no early exit: every key is compared
            if hmac.compare_digest(presented, key.digest) and found is None:
                found = key.workspace
        return found
