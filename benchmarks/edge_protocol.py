"""HTTP protocol plus handler in process: CPU per click without sockets or a load generator.

    python -m benchmarks.edge_protocol [--rounds N] [--repeat N] [--connections N]

The same request bytes as the wrk script (benchmarks/edge.lua, rebuilt by
benchmarks.edge_handler.request_ring) are fed to protocol objects over in-memory
transports, as `--connections` keep-alive connections each sending one request per pass
of the event loop, in two setups timed in the same run:

* bare: uvicorn's own httptools protocol with benchmarks.edge's constant-302 ASGI app
  (what `benchmarks.edge` calls the Python ceiling, minus the kernel's share);
* edge: edge.protocol.EdgeProtocol with the full EdgeApp (example graph, GeoIP, UA
  parsing, the splitter, cookies, the click event put into a deque).

It prints CPU µs per request of each and their ratio. What it leaves out is the kernel's
TCP work and the load generator, i.e. exactly the noise of a shared 2-core machine; use
`benchmarks.edge` for the end-to-end figure.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import time
from typing import Any

import uvicorn
from uvicorn.server import ServerState

from benchmarks.edge import bare_app
from benchmarks.edge_handler import EXAMPLE, DequeSink, StaticHolder, request_ring
from turnout.config.compile import compile_graph
from turnout.config.io import load_graph
from turnout.edge.app import EdgeApp
from turnout.edge.protocol import EdgeProtocol
from turnout.edge.settings import EdgeSettings, parse_networks


class MemoryTransport(asyncio.Transport):
    """Collects what the protocol writes; counts answers by their status lines."""

    def __init__(self, port: int) -> None:
        super().__init__()
        self.answers = 0
        self._extra = {"peername": ("127.0.0.1", port), "sockname": ("127.0.0.1", 8080)}

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self._extra.get(name, default)

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.answers += bytes(data[:9]) == b"HTTP/1.1 "

    def is_closing(self) -> bool:
        return False

    def close(self) -> None:
        pass

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


def raw_requests(size: int = 4096) -> list[bytes]:
    out = []
    for scope in request_ring(size):
        lines = [f"GET {scope['path']}?{scope['query_string'].decode()} HTTP/1.1".encode()]
        lines += [name.title() + b": " + value for name, value in scope["headers"]]
        out.append(b"\r\n".join(lines) + b"\r\n\r\n")
    return out


async def drive(protocol_class: type, app: Any, requests: list[bytes], connections: int,
                rounds: int) -> float:
    """CPU seconds to answer every request `rounds` times over `connections` connections."""
    config = uvicorn.Config(app, http=protocol_class, lifespan="off", log_level="warning",
                            access_log=False)
    config.load()
    state = ServerState()
    transports = [MemoryTransport(40000 + i) for i in range(connections)]
    protocols = []
    for transport in transports:
        protocol = config.http_protocol_class(config, state, {})
        protocol.connection_made(transport)
        protocols.append(protocol)
    expected = 0
    started = time.process_time()
    for _ in range(rounds):
        for start in range(0, len(requests), connections):
            for protocol, data in zip(protocols, requests[start:start + connections],
                                      strict=False):
                protocol.data_received(data)
                expected += 1
            while sum(t.answers for t in transports) < expected:
                await asyncio.sleep(0)  # the pass after the reads: ASGI tasks, corked writes
    elapsed = time.process_time() - started
    for protocol in protocols:
        protocol.connection_lost(None)
    return elapsed


async def edge_app() -> EdgeApp:
    settings = EdgeSettings(secret=b"benchmark-secret" * 2,
                            trusted_proxies=parse_networks(("127.0.0.1/32",), "x"))
    holder = StaticHolder("redis://unused", "p")
    holder.install(compile_graph(load_graph(EXAMPLE), 1))
    app = EdgeApp(settings, DequeSink, holder)
    await app.startup()
    return app


async def measure(args: argparse.Namespace) -> dict[str, float]:
    requests = raw_requests()
    edge = await edge_app()
    bare = bare_app()
    setups = [("bare", uvicorn.protocols.http.httptools_impl.HttpToolsProtocol, bare),
              ("edge", EdgeProtocol, edge)]
    setups = [setup for setup in setups if args.only in (None, setup[0])]
    best = {name: float("inf") for name, _, _ in setups}
    try:
        for _, protocol_class, app in setups:  # warm the caches
            await drive(protocol_class, app, requests, args.connections, 1)
        gc.collect()
        for _ in range(args.repeat):
            for name, protocol_class, app in setups:
                seconds = await drive(protocol_class, app, requests, args.connections,
                                      args.rounds)
                best[name] = min(best[name], seconds / (len(requests) * args.rounds) * 1e6)
    finally:
        await edge.shutdown()
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="passes over the 4,096 requests")
    parser.add_argument("--repeat", type=int, default=5, help="best of this many runs")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--only", choices=("bare", "edge"),
                        help="one setup (e.g. under `valgrind --tool=cachegrind`, run with two "
                             "--rounds values: the difference is instructions per request)")
    args = parser.parse_args()
    import uvloop

    best = uvloop.run(measure(args))
    labels = {"bare": "bare uvicorn protocol + constant 302", "edge": "EdgeProtocol + full edge"}
    for name, us in best.items():
        print(f"{labels[name]:37}: {us:6.1f} us CPU per request")
    if len(best) == 2:
        print(f"{'edge / bare by CPU per request':37}: {best['bare'] / best['edge']:6.2f}")


if __name__ == "__main__":
    main()
