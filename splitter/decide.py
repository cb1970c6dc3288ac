"""The per-click decision: first matching rule with something to choose, sticky by visitor."""

from __future__ import annotations

from splitter.table import CampaignTable
from splitter.types import Choice, Visitor


def decide(
    table: CampaignTable, visitor: Visitor, now_ms: int, u: float | None = None
) -> Choice | None:
    """The choice for `visitor` at UTC epoch ms `now_ms`, or None when nothing is available.

    Rules are tried in table order (the default last, unconditionally) by the table's
    compiled picker (`splitter.predicates.compile_picker`); rules without an available
    destination were left out at build time, which is the fall-through. Without `u` the
    point within the rule's weights is the visitor's sticky hash (`splitter.table`); `u` in
    [0, 1) overrides it (visitors without an id, tests). Only campaigns with time
    conditions pay for local time.
    """
    clock = table.clock
    if clock is None:
        return table.pick(visitor, 0, u)
    offset = clock.offsets.get(now_ms // 3_600_000)  # ZoneClock.local_ms, inlined
    return table.pick(visitor, clock.local_ms(now_ms) if offset is None else now_ms + offset, u)
