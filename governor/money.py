"""The money tasks as the service registers them: one count of ClickHouse per pass shared
by the three (they run in this order, so a lost Redis is re-seeded before meters are read).
"""

from __future__ import annotations

from turnout.governor.budgets import BudgetTask, budget_task
from turnout.governor.caps import CapsTask, caps_task
from turnout.governor.reseed import ReseedTask, reseed_task
from turnout.governor.spend import Counting


def money_tasks() -> tuple[ReseedTask, BudgetTask, CapsTask]:
    counting = Counting()
    return reseed_task(counting), budget_task(counting), caps_task(counting)
