"""Server-side sessions in Redis: a random session id in an HttpOnly cookie; the signed-in
API key, its role and the CSRF token stay in Redis, never in the browser or a URL."""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from typing import Final

import msgspec
import redis.asyncio as aioredis

COOKIE: Final = "turnout_session"
_ID_BYTES: Final = 32


class Session(msgspec.Struct, frozen=True, kw_only=True):
    token: str
    """The API key the views call the API with."""
    key_id: str
    workspace: str
    role: str
    csrf: str
    """The synchroniser token every form of this session carries."""

    def csrf_ok(self, sent: str | None) -> bool:
        return sent is not None and hmac.compare_digest(self.csrf.encode(), sent.encode())


class Flash(msgspec.Struct, frozen=True, kw_only=True):
    kind: str  # ok | error
    message: str


_ENCODER: Final = msgspec.json.Encoder()
_FLASH: Final = msgspec.json.Encoder()
_FLASH_DECODER: Final = msgspec.json.Decoder(Flash)
_DECODER: Final = msgspec.json.Decoder(Session)


@dataclass(slots=True)
class SessionStore:
    redis: aioredis.Redis
    prefix: str
    ttl_s: int

    def _key(self, session_id: str) -> str:
        return self.prefix + session_id

    async def create(self, *, token: str, key_id: str, workspace: str, role: str) -> str:
        """A new session; its id (for the cookie)."""
        session_id = secrets.token_urlsafe(_ID_BYTES)
        session = Session(token=token, key_id=key_id, workspace=workspace, role=role,
                          csrf=secrets.token_urlsafe(_ID_BYTES))
        await self.redis.set(self._key(session_id), _ENCODER.encode(session), ex=self.ttl_s)
        return session_id

    async def get(self, session_id: str | None) -> Session | None:
        """The live session of `session_id` (its expiry pushed back), or None."""
        if not session_id or len(session_id) > 128:
            return None
        raw = await self.redis.getex(self._key(session_id), ex=self.ttl_s)
        if raw is None:
            return None
        try:
            return _DECODER.decode(raw)
        except msgspec.DecodeError:
            return None

    async def delete(self, session_id: str | None) -> None:
        if session_id:
            await self.redis.delete(self._key(session_id), self._key(session_id) + ":flash")

    async def flash(self, session_id: str, message: str, kind: str = "ok") -> None:
        """A message for the next page this session sees (after a redirect)."""
        key = self._key(session_id) + ":flash"
        await self.redis.rpush(key, _FLASH.encode(Flash(kind=kind, message=message)))
        await self.redis.expire(key, 300)

    async def take_flashes(self, session_id: str) -> list[Flash]:
        key = self._key(session_id) + ":flash"
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.lrange(key, 0, -1)
            pipe.delete(key)
            raw, _ = await pipe.execute()
        return [_FLASH_DECODER.decode(item) for item in raw]
