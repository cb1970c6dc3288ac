"""A webhook receiver on 127.0.0.1 (a free port): it answers each request with the next
of its scripted statuses (the last one repeats; "hang" never answers) and keeps what it
received."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    script: list[int | str]
    port: int = 0
    received: list[Received] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def _next(self) -> int | str:
        return self.script.pop(0) if len(self.script) > 1 else self.script[0]

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")[1:]
            headers = {k.strip().lower(): v.strip()
                       for k, _, v in (line.partition(":") for line in lines if line)}
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            self.received.append(Received(headers, body))
            answer = self._next()
            if answer == "hang":
                await asyncio.sleep(30)
                return
            writer.write(f"HTTP/1.1 {answer} X\r\nContent-Length: 0\r\n"
                         "Connection: close\r\n\r\n".encode())
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


@contextlib.asynccontextmanager
async def receiver(*script: int | str) -> AsyncIterator[Receiver]:
    got = Receiver(list(script))
    server = await asyncio.start_server(got.handle, "127.0.0.1", 0)
    got.port = server.sockets[0].getsockname()[1]
    try:
        yield got
    finally:
        server.close()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(server.wait_closed(), 1)
