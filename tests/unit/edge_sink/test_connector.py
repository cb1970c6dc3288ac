"""The connector alone: backoff while the broker is away, probing again once marked down."""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path
from typing import Any

from tests.unit.edge_sink.support import ScriptedProducer, settings_for, until
from turnout.edge.sink.connector import Connector
from turnout.edge.sink.settings import SinkSettings
from turnout.edge.sink.stats import Counters


class _Refused:
    """A producer whose start() fails as against a port nobody listens on."""

    def __init__(self, attempts: list[float]) -> None:
        self.attempts = attempts

    async def start(self) -> None:
        self.attempts.append(asyncio.get_running_loop().time())
        raise ConnectionRefusedError("refused")

    async def stop(self) -> None:
        pass


async def test_reconnects_with_doubling_backoff_up_to_the_cap(tmp_path: Path) -> None:
    """With the jitter's draw at its top, the waits are the backoff's ceilings."""
    attempts: list[float] = []
    counters = Counters()
    settings = settings_for(tmp_path, retry_backoff_ms=50, retry_backoff_max_ms=200)
    connector = Connector(settings, lambda _: _Refused(attempts), counters, on_up=lambda: None,
                          draw=lambda: 0.999)
    task = asyncio.create_task(connector.run())
    await asyncio.wait_for(connector.first_attempt(), 2.0)  # released though it failed
    await until(lambda: len(attempts) >= 6)
    connector.stop()
    await asyncio.wait_for(task, 2.0)
    gaps = [later - earlier for earlier, later in itertools.pairwise(attempts)]
    for gap, delay in zip(gaps, [0.05, 0.1, 0.2, 0.2, 0.2], strict=False):
        assert gap >= delay * 0.9, gaps
    assert max(gaps[3:]) < 0.6, gaps  # uncapped, the 4th and 5th waits would be 0.4 and 0.8 s
    assert not connector.up
    assert counters.last_error == "ConnectionRefusedError: refused"


async def test_the_jitter_draws_each_wait_below_its_ceiling(tmp_path: Path) -> None:
    attempts: list[float] = []
    drawn: list[float] = []

    def draw() -> float:
        drawn.append([0.0, 0.5, 0.0, 0.25][len(drawn) % 4])
        return drawn[-1]

    settings = settings_for(tmp_path, retry_backoff_ms=100, retry_backoff_max_ms=800)
    connector = Connector(settings, lambda _: _Refused(attempts), Counters(),
                          on_up=lambda: None, draw=draw)
    task = asyncio.create_task(connector.run())
    await until(lambda: len(attempts) >= 5)
    connector.stop()
    await asyncio.wait_for(task, 2.0)
    gaps = [later - earlier for earlier, later in itertools.pairwise(attempts)]
    assert len(drawn) >= len(gaps)  # one draw per wait
    # 0.5 of the second wait's 0.2 s ceiling, 0.25 of the fourth's 0.8 s: 0.1 and 0.2 s
    assert gaps[1] >= 0.09 and gaps[3] >= 0.18, gaps


async def test_marked_down_it_probes_the_same_producer_until_up_again(tmp_path: Path) -> None:
    producers: list[ScriptedProducer] = []
    ups: list[bool] = []

    def factory(_: SinkSettings) -> Any:
        producers.append(ScriptedProducer(lambda key: False))
        return producers[-1]

    connector = Connector(settings_for(tmp_path), factory, Counters(),
                          on_up=lambda: ups.append(True))
    task = asyncio.create_task(connector.run())
    await until(lambda: connector.up)
    assert connector.producer is producers[0] and len(ups) == 1
    connector.mark_down()
    assert not connector.up
    await until(lambda: connector.up)
    assert len(producers) == 1 and len(ups) == 2
    connector.stop()
    await asyncio.wait_for(task, 2.0)
    await connector.close(1.0)
    assert connector.producer is None and not connector.up
