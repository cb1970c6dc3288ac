"""The tasks every governor runs, in pass order: first what changes campaigns (schedules,
automation), then what reports it (webhooks), so a pass's notifications go out in that pass."""

from __future__ import annotations

from turnout.governor.automation import automation_task
from turnout.governor.money import money_tasks
from turnout.governor.schedules import Schedules
from turnout.governor.settings import GovernorSettings
from turnout.governor.task_settings import AutomationSettings, WebhookSettings
from turnout.governor.tick import Task
from turnout.governor.webhooks import webhooks_task


def default_tasks(settings: GovernorSettings) -> list[Task]:
    return [
        Schedules(),
        *money_tasks(),  # re-seed meters, then budgets, then caps: one Counting per pass
        automation_task(AutomationSettings.from_env()),
        webhooks_task(WebhookSettings.from_env()),
    ]
