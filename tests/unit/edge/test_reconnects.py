"""Reconnect schedules: lease takes after Redis failed, and the settings that set the caps."""

from __future__ import annotations

import asyncio

import pytest
import redis.exceptions
from hypothesis import given
from hypothesis import strategies as st

from turnout import env
from turnout.backoff import Backoff
from turnout.edge.leases import Leases
from turnout.edge.settings import EdgeSettings
from turnout.edge.sink.settings import SinkSettings
from turnout.governor.settings import GovernorSettings
from turnout.ingest.settings import IngestSettings

BACKOFF = Backoff(base=0.1, cap=1.0)


class FlakyLedger:
    """Takes fail (Redis away) or grant one unit, as scripted."""

    def __init__(self, script: list[bool]) -> None:
        self.script = script

    async def take(self, key: str, *, limit: int, want: int, least: int = 1) -> int:
        if not self.script.pop(0):
            raise redis.exceptions.ConnectionError("refused")
        return least

    async def settle(self, key: str, *, given_back: int = 0, spent: int = 0) -> int:
        return 0


@given(st.lists(st.booleans(), min_size=1, max_size=30))
def test_a_failed_take_is_retried_within_the_backoff_of_the_failures_in_a_row(script):
    asyncio.run(_takes(script))


async def _takes(script: list[bool]) -> None:
    now = 1_000_000
    leases = Leases(FlakyLedger(list(script)), backoff=BACKOFF, clock=lambda: now)
    lease = leases.lease("m", "budget", "c", limit=10**9, unit=1, now_ms=now)
    in_a_row = 0
    for works in script:
        lease.wanted = True  # a click found the balance low
        await leases.step(now)
        if works:
            in_a_row = 0
            assert not lease.unreachable
        else:
            assert lease.unreachable
            assert 0 <= lease.retry_ms - now <= BACKOFF.ceiling(in_a_row) * 1000
            in_a_row += 1
        now = max(now, lease.retry_ms)


def test_without_a_backoff_an_unreachable_meter_waits_recheck_ms():
    async def run() -> int:
        leases = Leases(FlakyLedger([False]), clock=lambda: 0)
        lease = leases.lease("m", "budget", "c", limit=100, unit=1, now_ms=0)
        await leases.step(0)
        return lease.retry_ms

    assert asyncio.run(run()) == 1000


def test_reconnect_caps_default_to_the_issue_s_figures():
    assert EdgeSettings.from_env({}).reconnect == Backoff(base=0.1, cap=1.0)
    assert GovernorSettings.from_env({}).reconnect == Backoff(base=0.25, cap=2.0)
    assert SinkSettings.from_env({}).reconnect == Backoff(base=0.1, cap=2.0)
    assert IngestSettings.from_env({}).retry == Backoff(base=0.2, cap=2.0)
    edge = EdgeSettings.from_env({"TURNOUT_EDGE_RECONNECT_BASE_S": "0.05",
                                  "TURNOUT_EDGE_RECONNECT_CAP_S": "0.5"})
    assert edge.reconnect == Backoff(base=0.05, cap=0.5)


@pytest.mark.parametrize("settings", [
    lambda: EdgeSettings.from_env({"TURNOUT_EDGE_RECONNECT_BASE_S": "2",
                                   "TURNOUT_EDGE_RECONNECT_CAP_S": "1"}).reconnect,
    lambda: GovernorSettings.from_env({"TURNOUT_GOVERNOR_RECONNECT_BASE_S": "0"}).reconnect,
    lambda: SinkSettings.from_env({"TURNOUT_SINK_RETRY_BACKOFF_MS": "3000"}),
    lambda: IngestSettings.from_env({"TURNOUT_INGEST_RETRY_MAX_S": "0.1"}).retry,
])
def test_a_cap_below_its_base_is_a_setting_error(settings):
    with pytest.raises(env.SettingError):
        settings()
