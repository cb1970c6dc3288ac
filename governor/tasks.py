"""The tasks every governor runs, in pass order."""

from __future__ import annotations

from turnout.governor.postback_settings import PostbackSettings
from turnout.governor.postbacks import postbacks_task
from turnout.governor.schedules import Schedules
from turnout.governor.settings import GovernorSettings
from turnout.governor.tick import Task


def default_tasks(settings: GovernorSettings) -> list[Task]:
    return [Schedules(), postbacks_task(settings, PostbackSettings.from_env())]
