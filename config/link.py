"""One Redis connection that is subscribed to a channel and still answers commands.

RESP3 (Redis 6 and later, Valkey) lets a subscribed connection run ordinary commands:
replies come back in order and published messages arrive between them as push frames.
A reply to GET is never an array, so any array read while waiting for one is a push.

The connection must have no socket timeout: redis-py applies that one to writes through
asyncio.wait_for, which on Python 3.11 can swallow a cancellation that arrives as the
write completes, and a follower that misses its cancellation never stops. The deadlines
here are asyncio.timeout blocks instead, which pass an outside cancellation on.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any

from redis.asyncio.connection import AbstractConnection


class SubscribedLink:
    def __init__(self, connection: AbstractConnection, timeout: float) -> None:
        self._connection = connection
        self._timeout = timeout
        self._messages: deque[bytes] = deque()

    async def subscribe(self, channel: str) -> None:
        async with asyncio.timeout(self._timeout):
            await self._connection.send_command("SUBSCRIBE", channel)
            while not _is_push(await self._read(None), b"subscribe"):
                pass

    async def get(self, key: str) -> bytes | None:
        """GET on this connection, keeping messages that arrive before the reply. Raises
        TimeoutError when the reply takes longer than the link's timeout (the connection
        is closed then: a late reply would be taken for the next one)."""
        async with asyncio.timeout(self._timeout):
            await self._connection.send_command("GET", key)
            while isinstance(reply := await self._read(None), list):
                pass
        return reply

    async def mget(self, keys: list[str]) -> list[bytes | None]:
        """MGET on this connection, like `get`. An array reply is told apart from a pushed
        message by the push's shape (values here are JSON documents, never `message`)."""
        async with asyncio.timeout(self._timeout):
            await self._connection.send_command("MGET", *keys)
            while _is_push(reply := await self._read(None), b"message") or _is_push(
                    reply, b"subscribe"):
                pass
        return reply  # type: ignore[no-any-return]

    async def message(self, timeout: float) -> bytes | None:
        """The next message published on the channel, or None after `timeout` seconds."""
        if not self._messages:
            await self._read(timeout)
        return self._messages.popleft() if self._messages else None

    async def _read(self, timeout: float | None) -> Any:
        # With `timeout` redis-py gives up quietly (None) and the connection stays usable;
        # without it the read waits until a deadline above cancels it, which closes the
        # connection (redis-py disconnects on any exception during a read).
        frame = await self._connection.read_response(timeout=timeout, push_request=True)
        if _is_push(frame, b"message"):
            self._messages.append(frame[2])
        return frame


def _is_push(frame: Any, kind: bytes) -> bool:
    return isinstance(frame, list) and len(frame) == 3 and frame[0] == kind
