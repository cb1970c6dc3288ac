"""The tasks every governor runs, in pass order."""

from __future__ import annotations

from turnout.governor.schedules import Schedules
from turnout.governor.settings import GovernorSettings
from turnout.governor.tick import Task


def default_tasks(settings: GovernorSettings) -> list[Task]:
    return [Schedules()]
