"""The soak's fault schedule: `default`, `off`, or `NAME@SECONDS[,every=S]`, several joined
by commas (`tansu_pause@30,every=120,edge_restart@60`): an `every=` belongs to the fault
before it."""

from __future__ import annotations

from dataclasses import dataclass

FAULTS = ("tansu_pause", "ingest_kill", "edge_restart", "valkey_restart", "postgres_restart")
# The default schedule: the five faults in turn, one every DEFAULT_GAP_S (less on a short
# run, so each fits), none in the last two gaps: the soak ends on a quiet stretch.
DEFAULT_GAP_S = 30.0
MIN_GAP_S = 5.0


class ScheduleError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Fault:
    name: str
    at_s: float
    every_s: float | None = None


def parse(text: str) -> tuple[Fault, ...] | None:
    """The faults `text` names; None for `default` (its times depend on the duration)."""
    text = text.strip()
    if text == "default":
        return None
    if text in ("off", ""):
        return ()
    faults: list[Fault] = []
    for part in (p.strip() for p in text.split(",")):
        if part.startswith("every="):
            if not faults or faults[-1].every_s is not None:
                raise ScheduleError(f"{part!r} follows no fault of its own")
            every = _seconds(part.removeprefix("every="), part)
            if every <= 0:
                raise ScheduleError(f"{part!r}: every must be above 0")
            last = faults.pop()
            faults.append(Fault(last.name, last.at_s, every))
            continue
        name, at, seconds = part.partition("@")
        if not at:
            raise ScheduleError(f"{part!r}: expected NAME@SECONDS")
        if name not in FAULTS:
            raise ScheduleError(f"{name!r}: no such fault (one of {', '.join(FAULTS)})")
        faults.append(Fault(name, _seconds(seconds, part)))
    return tuple(faults)


def _seconds(text: str, part: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ScheduleError(f"{part!r}: {text!r} is not a number of seconds") from None
    if not 0 <= value < float("inf"):
        raise ScheduleError(f"{part!r}: seconds must be 0 or more")
    return value


def default_gap(duration_s: float) -> float:
    return max(MIN_GAP_S, min(DEFAULT_GAP_S, duration_s / (len(FAULTS) + 2)))


def times(faults: tuple[Fault, ...] | None, duration_s: float) -> list[tuple[float, str]]:
    """Every (seconds, fault) inside the run, in time order."""
    if faults is None:
        gap = default_gap(duration_s)
        count = max(0, int(duration_s / gap + 1e-9) - 2)
        return [(gap * (k + 1), FAULTS[k % len(FAULTS)]) for k in range(count)]
    out: list[tuple[float, str]] = []
    for fault in faults:
        at = fault.at_s
        while at < duration_s:
            out.append((at, fault.name))
            if fault.every_s is None:
                break
            at += fault.every_s
    return sorted(out)
