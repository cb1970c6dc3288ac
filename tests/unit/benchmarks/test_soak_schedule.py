"""benchmarks.soak_schedule: the --faults parser and the times it gives."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from benchmarks.soak_schedule import (
    FAULTS,
    MIN_GAP_S,
    Fault,
    ScheduleError,
    default_gap,
    parse,
    times,
)

seconds = st.floats(min_value=0, max_value=1e6, allow_nan=False, allow_infinity=False)
faults = st.builds(Fault, st.sampled_from(FAULTS), seconds,
                   st.none() | st.floats(min_value=0.5, max_value=1e6))


def render(fault: Fault) -> str:
    every = "" if fault.every_s is None else f",every={fault.every_s!r}"
    return f"{fault.name}@{fault.at_s!r}{every}"


@given(st.lists(faults, max_size=6))
def test_a_rendered_schedule_parses_back_to_itself(schedule: list[Fault]) -> None:
    assert parse(",".join(render(f) for f in schedule)) == tuple(schedule)


@given(st.text(alphabet="tansu_pedgrs@,=every0123456789.-e ", max_size=40))
def test_any_text_is_a_schedule_or_a_schedule_error(text: str) -> None:
    try:
        parsed = parse(text)
    except ScheduleError:
        return
    assert parsed is None or all(f.name in FAULTS and f.at_s >= 0 for f in parsed)


@pytest.mark.parametrize("text", [
    "every=5", "tansu_pause@5,every=1,every=2", "nope@5", "tansu_pause", "tansu_pause@",
    "tansu_pause@-1", "tansu_pause@inf", "tansu_pause@nan", "edge_restart@1,every=0",
    "edge_restart@1,every=x",
])
def test_bad_schedules_are_refused(text: str) -> None:
    with pytest.raises(ScheduleError):
        parse(text)


def test_default_and_off() -> None:
    assert parse("default") is None
    assert parse("off") == ()
    assert times((), 600) == []


def test_repeats_stop_at_the_end_and_merge_in_time_order() -> None:
    schedule = parse("tansu_pause@3,every=2,edge_restart@1")
    assert times(schedule, 8) == [(1.0, "edge_restart"), (3.0, "tansu_pause"),
                                  (5.0, "tansu_pause"), (7.0, "tansu_pause")]
    assert times(parse("ingest_kill@9"), 8) == []


@given(st.floats(min_value=1, max_value=7200))
def test_the_default_schedule_takes_turns_and_leaves_a_quiet_end(duration: float) -> None:
    at = times(None, duration)
    gap = default_gap(duration)
    assert [name for _, name in at] == [FAULTS[k % len(FAULTS)] for k in range(len(at))]
    assert all(t <= duration - 2 * gap + 1e-6 for t, _ in at)
    if duration >= (len(FAULTS) + 2) * MIN_GAP_S:
        assert {name for _, name in at} == set(FAULTS)


def test_twenty_minutes_run_every_fault_more_than_once() -> None:
    at = times(None, 1200)
    assert at[0] == (30.0, "tansu_pause")
    assert len(at) == 38 and at[-1][0] == 1140.0
