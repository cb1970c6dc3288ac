"""Raw-socket clients for the slow and abusive client tests: connect, send (all at once,
in pieces or trickled), hold the connection until the server closes it, and what came."""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from dataclasses import dataclass

from tests.integration.edge_support import MOBILE

WAIT_S = 10.0  # a connection not closed by then is reported as open


@dataclass(frozen=True)
class Outcome:
    answer: bytes  # everything the server sent
    closed: bool  # the server closed the connection (EOF or reset) within WAIT_S
    elapsed: float  # seconds from connecting to that close


async def connect(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", port)


def click_request(header: bytes = b"", repeat: int = 0) -> bytes:
    """A whole GET /c/CAMP_A head, with `header` repeated `repeat` times in it."""
    return (b"GET /c/CAMP_A HTTP/1.1\r\nHost: x\r\nUser-Agent: " + MOBILE.encode()
            + b"\r\nX-Forwarded-For: 214.78.0.1\r\n" + header * repeat + b"\r\n")


async def _send(writer: asyncio.StreamWriter, data: bytes, pieces: int, pace_s: float
                ) -> None:
    if pace_s:
        chunks = [data[i:i + 1] for i in range(len(data))]
    else:
        size = -(-len(data) // pieces) if data else 0
        chunks = [data[i:i + size] for i in range(0, len(data), size)] if size else []
    with contextlib.suppress(ConnectionError):
        for index, chunk in enumerate(chunks):
            writer.write(chunk)
            await writer.drain()
            if index + 1 < len(chunks):
                await asyncio.sleep(pace_s or 0.02)


async def hold_until_closed(port: int, data: bytes, pieces: int = 1, pace_s: float = 0.0
                            ) -> Outcome:
    """Connect, send `data` (in `pieces` writes, or one byte every `pace_s`), never send
    more, and read until the server closes the connection."""
    reader, writer = await connect(port)
    started = time.monotonic()
    sending = asyncio.ensure_future(_send(writer, data, pieces, pace_s))
    answer = b""
    closed = False
    try:
        async with asyncio.timeout(WAIT_S):
            while chunk := await reader.read(65536):
                answer += chunk
            closed = True
    except ConnectionResetError:
        closed = True
    except TimeoutError:
        pass
    elapsed = time.monotonic() - started
    sending.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await sending
    writer.close()
    return Outcome(answer, closed, elapsed)


def status_of(answer: bytes) -> int:
    """The status of the first response in `answer` (0: none)."""
    match = re.match(rb"HTTP/1\.[01] (\d{3}) ", answer)
    return int(match.group(1)) if match else 0


def metric(text: str, name: str, labels: str = "") -> float:
    """The value of `name{labels}` in a Prometheus exposition (0 when absent)."""
    series = f"{name}{{{labels}}}" if labels else name
    for line in text.splitlines():
        key, _, value = line.rpartition(" ")
        if key == series:
            return float(value)
    return 0.0
