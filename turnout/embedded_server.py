"""uvicorn run inside a process that may own the signals (`turnout ingest --api
--governor` runs the API and the governor beside the consumers)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator

import uvicorn


class _Server(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, handle_signals: bool) -> None:
        super().__init__(config)
        self.handle_signals = handle_signals

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # Embedded next to the ingest consumers, the host process owns SIGTERM/SIGINT.
        if not self.handle_signals:
            yield
            return
        with super().capture_signals():
            yield


async def serve(config: uvicorn.Config, handle_signals: bool) -> None:
    """Serve `config` until uvicorn exits (with `handle_signals`: on SIGINT/SIGTERM) or the
    caller is cancelled; either way the server shuts down gracefully first."""
    server = _Server(config, handle_signals)
    task = asyncio.ensure_future(server.serve())
    try:
        await asyncio.shield(task)
    except asyncio.CancelledError:
        server.should_exit = True
        await task
        raise
