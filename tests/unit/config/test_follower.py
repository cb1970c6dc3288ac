"""The follower's decisions without Redis: backoff schedule, which versions are news, and
how the one connection sorts notices from replies."""

from __future__ import annotations

import asyncio
import random
from collections import deque
from typing import Any

import pytest

from turnout.backoff import Backoff
from turnout.config.follower import NewVersions, _number
from turnout.config.link import SubscribedLink


def test_backoff_ceiling_doubles_up_to_the_cap():
    backoff = Backoff(base=0.1, cap=1.0)
    assert [backoff.ceiling(n) for n in range(6)] == pytest.approx(
        [0.1, 0.2, 0.4, 0.8, 1.0, 1.0])
    assert backoff.ceiling(10_000) == 1.0  # no overflow after a long outage


def test_backoff_delay_is_a_full_jitter_draw_below_the_ceiling():
    backoff = Backoff(base=0.5, cap=4.0)
    assert backoff.delay(2, lambda: 0.0) == 0.0
    assert backoff.delay(2, lambda: 0.5) == pytest.approx(1.0)
    draws = random.Random(7)
    for failures in range(12):
        delays = [backoff.delay(failures, draws.random) for _ in range(200)]
        assert all(0 <= d < backoff.ceiling(failures) <= 4.0 for d in delays)
        assert len(set(delays)) > 100  # jittered, not one fixed step
    late = [backoff.delay(20, draws.random) for _ in range(2000)]
    assert max(late) > 3.5 and min(late) < 0.5  # the whole range [0, cap) is used


@pytest.mark.parametrize(("base", "cap"), [(0, 1), (-1, 1), (2, 1)])
def test_backoff_refuses_a_schedule_that_cannot_work(base, cap):
    with pytest.raises(ValueError):
        Backoff(base=base, cap=cap)


def test_a_version_is_never_news_twice_in_a_row():
    seen = NewVersions()
    assert not seen.from_pointer(None)  # nothing published yet
    assert seen.from_pointer(3) and seen.from_notice(3)
    seen.last = 3
    assert not seen.from_pointer(3)
    assert not seen.from_notice(3)  # the notice of what the pointer already said
    assert not seen.from_notice(2)  # a late notice
    assert seen.from_notice(4)
    seen.last = 4
    assert not seen.from_notice(4)


def test_a_pointer_that_went_back_is_followed():
    seen = NewVersions()
    seen.last = 9
    assert seen.from_pointer(2)  # Redis lost its data and numbering started over
    assert not seen.from_notice(2)  # notices alone never move back


def test_numbers_on_the_channel():
    assert _number(b"12") == 12
    assert _number(None) is None
    assert _number(b"hello") is None  # someone else publishing on the channel


class Frames:
    """A connection that answers from a script of frames, as redis-py returns them with
    RESP3: pushes are lists, replies to GET are bytes or None."""

    def __init__(self, *frames: Any) -> None:
        self.frames = deque(frames)
        self.sent: list[tuple[str, ...]] = []

    async def send_command(self, *args: str) -> None:
        self.sent.append(args)

    async def read_response(self, timeout: float | None = None,
                            push_request: bool = False) -> Any:
        assert push_request, "without it redis-py drops push frames"
        if not self.frames:
            await asyncio.sleep(3600 if timeout is None else timeout)
            return None  # the caller's own timeout: nothing arrived
        return self.frames.popleft()


async def test_messages_arriving_before_a_reply_are_kept_in_order():
    connection = Frames(
        [b"subscribe", b"ch", 1],
        [b"message", b"ch", b"5"], [b"message", b"ch", b"6"], b"4",
        None,
    )
    link = SubscribedLink(connection, 1.0)  # type: ignore[arg-type]
    await link.subscribe("ch")
    assert await link.get("p:current") == b"4"
    assert await link.get("p:version:9") is None
    assert await link.message(0.01) == b"5"
    assert await link.message(0.01) == b"6"
    assert await link.message(0.01) is None
    assert connection.sent == [("SUBSCRIBE", "ch"), ("GET", "p:current"),
                               ("GET", "p:version:9")]


async def test_subscribe_reads_its_confirmation_and_nothing_more():
    connection = Frames([b"subscribe", b"ch", 1], [b"message", b"ch", b"2"])
    link = SubscribedLink(connection, 1.0)  # type: ignore[arg-type]
    await link.subscribe("ch")
    assert list(connection.frames) == [[b"message", b"ch", b"2"]]
    assert await link.message(0.01) == b"2"


async def test_a_missing_reply_is_a_timeout():
    link = SubscribedLink(Frames([b"subscribe", b"ch", 1]), 0.05)  # type: ignore[arg-type]
    await link.subscribe("ch")
    with pytest.raises(TimeoutError):
        await link.get("p:current")


async def test_an_outside_cancellation_is_never_lost():
    # The reason the link keeps its own deadlines (see turnout.config.link).
    link = SubscribedLink(Frames([b"subscribe", b"ch", 1]), 5.0)  # type: ignore[arg-type]
    await link.subscribe("ch")
    for wait in (link.get("p:current"), link.message(5.0)):
        task = asyncio.create_task(wait)
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
