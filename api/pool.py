"""A few clickhouse-connect clients shared by worker threads, one query per client at a time."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from clickhouse_connect.driver.client import Client

ClientFactory = Callable[[], Client]


class ClientPool:
    def __init__(self, factory: ClientFactory, size: int = 4) -> None:
        self._factory = factory
        self._free: list[Client] = []
        self._slots = threading.BoundedSemaphore(size)
        self._lock = threading.Lock()

    @contextmanager
    def client(self) -> Iterator[Client]:
        """Blocks (in the worker thread) while `size` queries are already running."""
        with self._slots:
            with self._lock:
                client = self._free.pop() if self._free else None
            if client is None:
                client = self._factory()
            try:
                yield client
            finally:
                with self._lock:
                    self._free.append(client)
