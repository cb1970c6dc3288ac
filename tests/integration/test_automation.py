"""Automation rules end to end on real PostgreSQL, chdb and Valkey: rules made through the
admin API, traffic stored through the ingest store, the governor task run with the time
passed in, its effects read back through the API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.integration.automation_support import MINUTE_MS, NOW_MS, Governed, governed
from tests.integration.entities_support import World, entity_world
from turnout.governor.automation import automation_task
from turnout.governor.task_settings import AutomationSettings

M = 1_000_000


@pytest.fixture
async def gov(postgres_url: str, redis_url: str, clickhouse_dsn: str
              ) -> AsyncIterator[Governed]:
    async with entity_world(postgres_url, redis_url, clickhouse_dsn) as world, \
            governed(world, clickhouse_dsn, redis_url) as g:
        yield g


async def active_campaign(world: World, name: str) -> str:
    copy = await world.send("POST", "/api/v1/campaigns/camp-a/duplicate", {"id": name})
    assert copy.status_code == 201, copy.text
    answer = await world.send("POST", f"/api/v1/campaigns/{name}/activate",
                              revision=copy.json()["revision"])
    assert answer.status_code == 200, answer.text
    return name


def rule(rule_id: str, targets: list[dict[str, str]], **fields: Any) -> dict[str, Any]:
    body = {"id": rule_id, "name": f"Rule {rule_id}", "metric": "roi", "op": "<", "value": 0,
            "window_hours": 1, "min_clicks": 100, "scope": "campaign", "targets": targets,
            "action": "pause", "cooldown_minutes": 60}
    return {**body, **fields}


async def create_rule(world: World, body: dict[str, Any]) -> dict[str, Any]:
    answer = await world.send("POST", "/api/v1/automation/rules", body)
    assert answer.status_code == 201, answer.text
    return answer.json()


async def status(world: World, campaign: str) -> str:
    return (await world.get(f"/api/v1/campaigns/{campaign}")).json()["status"]


async def runs(world: World, rule_id: str) -> list[dict[str, Any]]:
    answer = await world.get(f"/api/v1/automation/runs?rule={rule_id}")
    assert answer.status_code == 200, answer.text
    return answer.json()["items"]


def losing_and_winning(g: Governed) -> None:
    """loser: 120 clicks at 0.10, nothing back (ROI -100 %); winner: 120 clicks at 0.10 and
    two conversions paying 10 (ROI +66.67 %); thin: 50 losing clicks."""
    at = NOW_MS - 10 * MINUTE_MS
    g.clicks("loser", 120, at_ms=at, cost_micros=M // 10)
    won = g.clicks("winner", 120, at_ms=at, cost_micros=M // 10)
    g.conversions(won[:2], 10 * M)
    g.clicks("thin", 50, at_ms=at, cost_micros=M // 10)
    g.clicks("loser", 500, at_ms=NOW_MS - 2 * 60 * MINUTE_MS, cost_micros=M)  # out of window


async def test_pause_when_roi_below_zero_fires_on_the_loser_only(gov: Governed) -> None:
    world = gov.world
    for name in ("loser", "winner", "thin"):
        await active_campaign(world, name)
    losing_and_winning(gov)
    made = await create_rule(world, rule("stop-losers", [
        {"campaign": "loser"}, {"campaign": "winner"}, {"campaign": "thin"}]))
    assert made["revision"] == 1 and made["dry_run"] is False
    task = automation_task()
    await task.tick(gov.tick())

    assert [await status(world, c) for c in ("loser", "winner", "thin")] == [
        "paused", "active", "active"]
    (run,) = await runs(world, "stop-losers")
    assert {e["item"]: (e["clicks"], e["value"], e["outcome"]) for e in run["evaluated"]} == {
        "campaign:loser": (120, "-100.00", "matched"),
        "campaign:winner": (120, "66.67", "not matched"),
        "campaign:thin": (50, "-100.00", "too few clicks")}
    assert run["actions"] == [{"item": "campaign:loser", "action": "pause", "outcome": "done",
                               "changed": {"campaigns": ["loser"]}}]
    assert run["errors"] == [] and run["duration_ms"] >= 0 and run["dry_run"] is False
    assert task.metrics()["automation_actions_total"] == 1
    # Through the control plane: audited and published as the governor, and notified.
    audit = (await world.get("/api/v1/audit?entity_id=loser")).json()["items"][0]
    assert (audit["actor"], audit["action"]) == ("governor", "pause")
    assert world.published[-1][:2] == ("acme", "governor")
    assert world.published[-1][3] == {"campaigns": ["loser"]}
    (note,) = await world.sql("SELECT event, data FROM notifications")
    assert note[0] == "automation.action"
    assert note[1]["target"] == {"campaign": "loser"} and note[1]["value"] == "-100.00"
    # A pass within the rule interval does not run it again.
    await task.tick(gov.tick(NOW_MS + 10_000))
    assert len(await runs(world, "stop-losers")) == 1


async def test_dry_run_records_and_does_not_act(gov: Governed) -> None:
    world = gov.world
    await active_campaign(world, "loser")
    losing_and_winning(gov)
    await create_rule(world, rule("dry", [{"campaign": "loser"}], dry_run=True))
    audited = len(await world.sql("SELECT 1 FROM audit"))
    await automation_task().tick(gov.tick())

    assert await status(world, "loser") == "active"
    (run,) = await runs(world, "dry")
    assert run["dry_run"] is True
    assert run["actions"] == [{"item": "campaign:loser", "action": "pause", "outcome": "would",
                               "changed": {"campaigns": ["loser"]}}]
    assert len(await world.sql("SELECT 1 FROM audit")) == audited
    assert await world.sql("SELECT 1 FROM notifications") == []
    assert await world.sql("SELECT 1 FROM automation_cooldowns") == []


async def test_cooldown_holds_and_then_lets_the_rule_act_again(gov: Governed) -> None:
    world = gov.world
    await active_campaign(world, "loser")
    losing_and_winning(gov)
    await create_rule(world, rule("tell", [{"campaign": "loser"}], action="notify",
                                  cooldown_minutes=30))
    task = automation_task(AutomationSettings(interval_s=1))
    outcomes = []
    for at in (NOW_MS, NOW_MS + MINUTE_MS, NOW_MS + 29 * MINUTE_MS, NOW_MS + 31 * MINUTE_MS):
        await task.tick(gov.tick(at))
        outcomes.append((await runs(world, "tell"))[0]["actions"][0]["outcome"])
    assert outcomes == ["done", "cooling down", "cooling down", "done"]
    assert len(await world.sql("SELECT 1 FROM notifications")) == 2
    assert await status(world, "loser") == "active"  # notify changes nothing


async def test_set_weight_on_a_destination_is_a_validated_campaign_write(gov: Governed
                                                                        ) -> None:
    world = gov.world
    await active_campaign(world, "loser")
    gov.clicks("loser", 30, at_ms=NOW_MS - MINUTE_MS, cost_micros=M, rule_id="usa",
               destination_id="global")
    await create_rule(world, rule("zero-global", [
        {"campaign": "loser", "rule": "usa", "destination": "global"}],
        scope="destination", metric="cost", op=">=", value="20", min_clicks=0,
        action="set_weight", weight=0))
    before = await world.revision("/api/v1/campaigns/loser")
    await automation_task().tick(gov.tick())

    shown = (await world.get("/api/v1/campaigns/loser")).json()
    usa = next(r for r in shown["rules"] if r["id"] == "usa")
    assert {d["id"]: d["weight"] for d in usa["destinations"]} == {"usa": 50, "global": 0}
    assert shown["revision"] == before + 1
    (run,) = await runs(world, "zero-global")
    assert run["evaluated"][0]["value"] == "30.000000"
    assert run["actions"][0]["outcome"] == "done"


async def test_a_refused_action_is_recorded_not_raised(gov: Governed) -> None:
    world = gov.world
    await active_campaign(world, "loser")
    losing_and_winning(gov)
    await create_rule(world, rule("stop", [{"campaign": "loser"}]))
    answer = await world.send("POST", "/api/v1/campaigns/loser/complete",
                              revision=await world.revision("/api/v1/campaigns/loser"))
    assert answer.status_code == 200, answer.text
    await automation_task().tick(gov.tick())
    (run,) = await runs(world, "stop")
    assert run["actions"][0]["outcome"] == "failed"
    assert "cannot pause a completed campaign" in run["errors"][0]["message"]
    assert await status(world, "loser") == "completed"


async def test_a_bad_rule_gets_422_with_every_field_path(gov: Governed) -> None:
    world = gov.world
    answer = await world.send("POST", "/api/v1/automation/rules", rule(
        "bad", [{"offer": "vpn-us"}, {"campaign": "nope"}, {"campaign": "nope"}],
        action="set_weight", value="0.1234567"))
    assert answer.status_code == 422, answer.text
    assert {(e["path"], e["message"].split(":")[0]) for e in answer.json()["errors"]} == {
        ("value", "at most 6 decimal places"), ("weight", "required with action set_weight"),
        ("action", "a campaign has no weight"), ("targets[0].campaign", "required for scope "
                                                                         "campaign"),
        ("targets[0].offer", "not a field of scope campaign (it takes campaign)"),
        ("targets[2]", "the same as targets[1]")}
    missing = await world.send("POST", "/api/v1/automation/rules",
                               rule("bad", [{"campaign": "camp-a"}, {"campaign": "nope"}]))
    assert missing.status_code == 422
    assert missing.json()["errors"] == [{"path": "targets[1].campaign",
                                         "message": "no campaign 'nope' in this workspace"}]
    shape = await world.send("POST", "/api/v1/automation/rules",
                             rule("bad", [{"campaign": "camp-a"}], op="!="))
    assert shape.status_code == 422 and shape.json()["errors"][0]["path"] == "op"
    viewer = await world.send("POST", "/api/v1/automation/rules",
                              rule("ok", [{"campaign": "camp-a"}]), role="viewer")
    assert viewer.status_code == 403


async def test_rules_crud_with_if_match_and_audit(gov: Governed) -> None:
    world = gov.world
    made = await create_rule(world, rule("r1", [{"campaign": "camp-a"}]))
    path = "/api/v1/automation/rules/r1"
    changed = {**made, "enabled": False}
    assert (await world.send("PUT", path, changed)).status_code == 428
    assert (await world.send("PUT", path, changed, revision=7)).status_code == 412
    answer = await world.send("PUT", path, changed, revision=1)
    assert answer.status_code == 200, answer.text
    assert answer.json()["revision"] == 2 and answer.json()["enabled"] is False
    again = await world.send("PUT", path, {**changed, "revision": 2}, revision=2)
    assert again.json()["revision"] == 2  # nothing changed: no new revision
    listed = (await world.get("/api/v1/automation/rules")).json()["items"]
    assert [r["id"] for r in listed] == ["r1"]
    actions = [row[0] for row in await world.sql(
        "SELECT action FROM audit WHERE entity_kind = 'automation_rule' ORDER BY id")]
    assert actions == ["create", "update"]
    assert (await world.send("DELETE", path, revision=2)).status_code == 200
    assert (await world.get(path)).status_code == 404


async def test_another_workspace_cannot_see_or_change_the_rule(gov: Governed) -> None:
    world = gov.world
    await create_rule(world, rule("mine", [{"campaign": "camp-a"}]))
    other = {"Authorization": f"Bearer {world.foreign}"}
    path = "/api/v1/automation/rules/mine"
    assert (await world.http.get(path, headers=other)).status_code == 404
    assert (await world.http.get("/api/v1/automation/rules", headers=other)).json() == {
        "items": []}
    assert (await world.http.get("/api/v1/automation/runs?rule=mine",
                                 headers=other)).status_code == 404
    put = await world.http.put(path, json=rule("mine", [{"campaign": "camp-a"}]),
                               headers={**other, "If-Match": "1"})
    assert put.status_code == 404
    assert (await world.http.delete(path, headers={**other, "If-Match": "1"})
            ).status_code == 404
    steal = await world.http.post("/api/v1/automation/rules", headers=other,
                                  json=rule("theirs", [{"campaign": "camp-a"}]))
    assert steal.status_code == 422
    assert steal.json()["errors"][0]["path"] == "targets[0].campaign"
    assert await world.revision(path) == 1
