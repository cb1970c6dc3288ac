"""A traffic source's postback receiver on 127.0.0.1 for the governor's postback tests: it
counts every request by its `tx` parameter and answers from a script per tx (500, a hang
longer than the governor's timeout, 404, ...; 200 once the script is used up)."""

from __future__ import annotations

import contextlib
import threading
from collections import Counter, defaultdict
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

HANG = "hang"  # answer 200, but only after `hang_s`: the sender has timed out by then


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # the governor opens `concurrency` connections at once


class Receiver:
    def __init__(self, hang_s: float) -> None:
        self.hang_s = hang_s
        self.script: dict[str, list[str]] = defaultdict(list)  # tx -> answers, in order
        self.requests: list[dict[str, str]] = []  # every request's query
        self._lock = threading.Lock()
        self._released = threading.Event()
        self.server = _Server(("127.0.0.1", 0), self._handler())
        self.port = self.server.server_address[1]

    def count(self) -> Counter[str]:
        with self._lock:
            return Counter(request.get("tx", "") for request in self.requests)

    def by_tx(self, tx: str) -> list[dict[str, str]]:
        with self._lock:
            return [r for r in self.requests if r.get("tx") == tx]

    def _answer(self, query: dict[str, str]) -> str:
        with self._lock:
            self.requests.append(query)
            script = self.script[query.get("tx", "")]
            return script.pop(0) if script else "200"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                query = {k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()}
                answer = receiver._answer(query)
                if answer == HANG:
                    receiver._released.wait(receiver.hang_s)
                    answer = "200"
                body = b"ok"
                self.send_response(int(answer))
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                with contextlib.suppress(OSError):  # the sender may have given up
                    self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler

    def close(self) -> None:
        self._released.set()
        self.server.shutdown()
        self.server.server_close()


@contextlib.contextmanager
def receiving(hang_s: float = 3.0) -> Iterator[Receiver]:
    receiver = Receiver(hang_s)
    thread = threading.Thread(target=receiver.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        receiver.close()
        thread.join(timeout=5)

