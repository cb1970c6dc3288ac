"""Automation rules at work (SPEC §11): each pass, every enabled rule whose last run is at
least TURNOUT_GOVERNOR_AUTOMATION_INTERVAL_S old runs once.

A run reads the rule's metric and clicks per target over [now - N h, now) with the report
query builder (governor/automation_metrics.py), judges each target, and for each match
takes the action (governor/automation_actions.py) in a transaction of its own that also
claims the target's cooldown (control/automation_runs.claim) and enqueues an
`automation.action` notification; once it commits, the publisher publishes what changed.
A dry run goes through exactly the same transaction and rolls it back, so it reports what
would change, and what would be refused, and changes nothing. A refusal is recorded in
the run, never raised. Every run is recorded with its trigger data, actions, errors and
duration.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any, Final

import msgspec
import psycopg

from turnout.control import automation_rules, automation_runs
from turnout.control.automation_rules import Rule
from turnout.control.db import connection
from turnout.control.entities import REFUSALS, Written
from turnout.governor import notify
from turnout.governor.automation_actions import apply
from turnout.governor.automation_metrics import Seen, judged, query_of, seen, window_start_ms
from turnout.governor.task_settings import AutomationSettings
from turnout.governor.tick import ACTOR, Tick, actor

EVENT: Final = "automation.action"


def _instant(ms: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC)


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def _value(item: Seen) -> str | None:
    return None if item.value is None else str(item.value)


def _merged(written: list[Written]) -> dict[str, list[str]]:
    entities: dict[str, list[str]] = {}
    for w in written:
        for kind, ids in w.entities.items():
            entities.setdefault(kind, []).extend(ids)
    return entities


async def _currency(tick: Tick, workspace_id: str) -> str:
    """The workspace's currency, which report money is converted into (reports/fx.py)."""
    async with connection(tick.pool) as conn:
        cursor = await conn.execute("SELECT currency FROM workspaces WHERE id = %s",
                                    (workspace_id,))
        row = await cursor.fetchone()
    return "" if row is None else str(row[0])


class AutomationTask:
    """The governor task evaluating automation rules; counters for /metrics."""

    name: str = "automation"

    def __init__(self, settings: AutomationSettings | None = None) -> None:
        self.settings = settings or AutomationSettings()
        self.runs = 0
        self.actions = 0  # actions taken (committed, something changed or notified)
        self.dry_actions = 0  # actions dry runs would have taken
        self.failures = 0  # actions refused or failed, and report queries that failed

    def metrics(self) -> dict[str, float]:
        return {"automation_runs_total": self.runs, "automation_actions_total": self.actions,
                "automation_dry_run_actions_total": self.dry_actions,
                "automation_failures_total": self.failures}

    async def tick(self, tick: Tick) -> None:
        async with connection(tick.pool) as conn:
            rules = await automation_rules.enabled_rules(conn)
            last = await automation_runs.last_runs(conn)
        now, interval = _instant(tick.now_ms), dt.timedelta(seconds=self.settings.interval_s)
        for rule in rules:
            before = last.get((rule.workspace, rule.id))
            if before is None or now - before >= interval:
                await self.run(tick, rule)

    async def run(self, tick: Tick, rule: Rule) -> int:
        """Evaluate `rule` once at tick.now_ms, act (or, dry, pretend to), record the run;
        its id."""
        started = time.monotonic()
        evaluated: list[dict[str, Any]] = []
        actions: list[dict[str, Any]] = []
        errors: list[dict[str, Any]] = []
        query = query_of(rule, tick.now_ms, await _currency(tick, rule.workspace))
        try:
            rows = await tick.clickhouse.rows(query.sql, query.parameters)
        except Exception as exc:  # ClickHouse away or refusing: recorded, the next run retries
            self.failures += 1
            errors.append({"message": f"the report query failed: {_reason(exc)}"})
            rows = None
        for item in seen(rule, query, rows) if rows is not None else ():
            outcome = judged(rule, item)
            evaluated.append({"item": item.target.key(rule.scope), "clicks": item.clicks,
                              "value": _value(item), "outcome": outcome})
            if outcome == "matched":
                actions.append(await self._act(tick, rule, item, errors))
        async with connection(tick.pool) as conn:
            run_id = await automation_runs.record(
                conn, workspace_id=rule.workspace, rule_id=rule.id,
                rule_revision=rule.revision, at_ms=tick.now_ms, dry_run=rule.dry_run,
                window_start_ms=window_start_ms(rule, tick.now_ms), evaluated=evaluated,
                actions=actions, errors=errors,
                duration_ms=round((time.monotonic() - started) * 1000))
        self.runs += 1
        return run_id

    async def _act(self, tick: Tick, rule: Rule, item: Seen, errors: list[dict[str, Any]]
                   ) -> dict[str, Any]:
        key = item.target.key(rule.scope)
        entry: dict[str, Any] = {"item": key, "action": rule.action}
        if rule.weight is not None:
            entry["weight"] = rule.weight
        changed: list[Written] = []
        outcome = "cooling down"
        try:
            async with connection(tick.pool) as conn, conn.transaction(
                    force_rollback=rule.dry_run) as transaction:
                if await automation_runs.claim(conn, rule.workspace, rule.id, key,
                                               tick.now_ms, rule.cooldown_minutes):
                    written = await apply(conn, actor(rule.workspace), rule, item.target,
                                          tick.now_ms)
                    changed = [w for w in written if w.changed]
                    if not changed and rule.action != "notify":
                        outcome = "unchanged"  # already so: the cooldown is not started
                        raise psycopg.Rollback(transaction)
                    await notify.enqueue(conn, workspace_id=rule.workspace, event=EVENT,
                                         data=self._data(rule, item, changed),
                                         key=f"automation:{rule.workspace}:{rule.id}:{key}:"
                                             f"{tick.now_ms}")
                    outcome = "would" if rule.dry_run else "done"
        except (*REFUSALS, psycopg.Error) as exc:
            self.failures += 1
            errors.append({"item": key, "message": _reason(exc)})
            return {**entry, "outcome": "would fail" if rule.dry_run else "failed",
                    "error": _reason(exc)}
        if changed:
            entry["changed"] = _merged(changed)
        if outcome == "done":
            self.actions += 1
            if changed:
                note = f"automation rule {rule.id}: " + "; ".join(w.note for w in changed)
                tick.publisher.changed(rule.workspace, ACTOR, note, _merged(changed))
        elif outcome == "would":
            self.dry_actions += 1
        return {**entry, "outcome": outcome}

    @staticmethod
    def _data(rule: Rule, item: Seen, changed: list[Written]) -> dict[str, Any]:
        """The notification's data: the rule, what it saw and what it did."""
        return {"rule": rule.id, "rule_name": rule.name, "scope": rule.scope,
                "target": msgspec.to_builtins(item.target), "metric": rule.metric, "op": rule.op,
                "threshold": str(rule.value), "value": _value(item), "clicks": item.clicks,
                "window_hours": rule.window_hours, "action": rule.action,
                "weight": rule.weight, "changed": _merged(changed)}


def automation_task(settings: AutomationSettings | None = None) -> AutomationTask:
    """The task the governor service registers (settings: AutomationSettings.from_env())."""
    return AutomationTask(settings)
