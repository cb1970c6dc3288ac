from __future__ import annotations

import asyncio

from turnout.edge.wire import Corked, DefaultHeaders, cork_of, response_bytes


def test_response_bytes_layout():
    defaults = DefaultHeaders()
    first = [(b"date", b"D1"), (b"server", b"s")]
    assert defaults(first) == b"date: D1\r\nserver: s\r\n"
    assert defaults([(b"date", b"D2")]) == b"date: D2\r\n"  # a new list: rebuilt
    raw = response_bytes(302, defaults([(b"date", b"D")]), [(b"location", b"https://x/")],
                         b"", True)
    assert raw == (b"HTTP/1.1 302 Found\r\ndate: D\r\nlocation: https://x/\r\n"
                   b"connection: close\r\n\r\n")
    assert response_bytes(404, b"", [(b"content-length", b"2")], b"no", False) == (
        b"HTTP/1.1 404 Not Found\r\ncontent-length: 2\r\n\r\nno")


class Recorder:
    def __init__(self, log: list[tuple[str, bytes, bool]], name: str) -> None:
        self.log, self.name = log, name

    def written(self, data: bytes, close: bool) -> None:
        self.log.append((self.name, data, close))


async def test_corked_writes_go_out_together_after_the_pass():
    loop = asyncio.get_running_loop()
    assert cork_of(loop) is cork_of(loop)
    cork = Corked(loop)
    log: list[tuple[str, bytes, bool]] = []
    a, b = Recorder(log, "a"), Recorder(log, "b")
    cork.write(a, b"1", False)
    cork.write(b, b"2", True)
    cork.write(a, b"3", False)
    assert log == []  # nothing inside the read callbacks
    await asyncio.sleep(0)
    assert log == [("a", b"1", False), ("b", b"2", True), ("a", b"3", False)]
    cork.write(a, b"4", False)
    cork.flush()  # shutdown: what is computed goes out now
    assert log[-1] == ("a", b"4", False)
    await asyncio.sleep(0)
    assert len(log) == 4  # the scheduled flush found nothing left
