"""Proving a version compiles before it is published, on every core there is.

Compiling a 10,000-campaign graph is ~3 s of CPU; the publisher only needs to know it
works. With a core to spare and enough campaigns, a forked child compiles half of them
while this process compiles the other half (a fork shares the graph for free, and the
child hands back only whether it worked). The child only compiles and exits through
`os._exit`, so nothing of the parent (connections, threads, buffers) runs twice.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Final

import msgspec

from turnout.config.compile import compile_version
from turnout.config.errors import ConfigError
from turnout.config.manifest import CAMPAIGNS, Changes
from turnout.config.model import Campaign, Graph

PARALLEL_FROM: Final = 2000  # campaigns; below this a fork costs more than it saves
_MESSAGE_MAX: Final = 4096


def check_compiles(graph: Graph, changes: Changes, parallel: bool = True) -> None:
    """Compile what an edge following the version before would compile: everything when
    `changes` touch a shared entity (as for a first version), else the campaigns they
    changed. Raises what the compiler raises (a forked half: ConfigError with its message)."""
    chosen: Sequence[Campaign] = graph.campaigns
    if not changes.shared:
        changed = set(changes.upserted.get(CAMPAIGNS, ()))
        chosen = tuple(c for c in graph.campaigns if c.id in changed)
    if not chosen and not changes.shared:
        return
    shared = msgspec.structs.replace(graph, campaigns=())
    if parallel and len(chosen) >= PARALLEL_FROM and spare_core():
        half = len(chosen) // 2
        child = _fork_compiling(shared, chosen[half:])
        try:
            _compile(shared, chosen[:half])
        finally:
            _reap(*child)
    else:
        _compile(shared, chosen)


def spare_core() -> bool:
    """Is a core free for a forked half? When every core is busy already (the 1-minute
    load average, which counts this process, within half a process of the cores this
    process may use), the halves only take turns: no sooner done, and more CPU in all
    (pages copied into the child, caches shared)."""
    cores = len(os.sched_getaffinity(0))
    return cores > 1 and os.getloadavg()[0] < cores - 0.5


def _compile(shared: Graph, campaigns: Sequence[Campaign]) -> None:
    compile_version(shared, 0, campaigns, [c.id for c in campaigns])


def _fork_compiling(shared: Graph, campaigns: Sequence[Campaign]) -> tuple[int, int]:
    """(pid, read end of a pipe): the child writes nothing when it compiled, else why not."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child
        os.close(read)
        code = 0
        try:
            _compile(shared, campaigns)
        except BaseException as exc:  # everything goes back to the parent
            os.write(write, f"{type(exc).__name__}: {exc}".encode()[:_MESSAGE_MAX])
            code = 1
        os._exit(code)
    os.close(write)
    return pid, read


def _reap(pid: int, read: int) -> None:
    try:
        message = b""
        while chunk := os.read(read, _MESSAGE_MAX):
            message += chunk
    finally:
        os.close(read)
        _, status = os.waitpid(pid, 0)
    if message or os.waitstatus_to_exitcode(status) != 0:
        raise ConfigError("the graph does not compile: "
                          + (message.decode(errors="replace") or f"child exited {status}"))
