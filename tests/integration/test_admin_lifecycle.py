"""The campaign lifecycle over the API on a real PostgreSQL: every (status, action) pair,
the guards, duplicate, children and the bulk actions' answers per id."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator

import pytest

from tests.integration.entities_support import World, entity_world
from turnout.config.model import STATUSES
from turnout.control.lifecycle import ACTIONS, TRANSITIONS

# How to bring a new draft into each status.
ROUTE_TO: dict[str, list[str]] = {
    "draft": [], "active": ["activate"], "paused": ["activate", "pause"],
    "completed": ["activate", "complete"], "cancelled": ["cancel"],
}


@pytest.fixture(scope="module")
async def world(postgres_url: str, redis_url: str, clickhouse_dsn: str
                ) -> AsyncIterator[World]:
    async with entity_world(postgres_url, redis_url, clickhouse_dsn) as w:
        yield w


async def act(world: World, campaign_id: str, action: str, revision: int,
              reason: str = "budget is spent") -> tuple[int, dict]:
    body = {"reason": reason} if action == "cancel" else None
    answer = await world.send("POST", f"/api/v1/campaigns/{campaign_id}/{action}", body,
                              revision=revision)
    return answer.status_code, answer.json()


async def campaign_in(world: World, status: str, name: str) -> tuple[str, int]:
    copy = await world.send("POST", "/api/v1/campaigns/camp-a/duplicate", {"id": name})
    assert copy.status_code == 201, copy.text
    doc = copy.json()
    assert doc["status"] == "draft" and doc["code"] != "CAMP_A"
    revision = doc["revision"]
    for step in ROUTE_TO[status]:
        code, doc = await act(world, name, step, revision)
        assert code == 200, doc
        revision = doc["revision"]
    assert doc["status"] == status
    return name, revision


PAIRS = list(itertools.product(STATUSES, ACTIONS))


@pytest.mark.parametrize(("status", "action"), PAIRS, ids=[f"{s}-{a}" for s, a in PAIRS])
async def test_every_status_and_action(world: World, status: str, action: str) -> None:
    campaign_id, revision = await campaign_in(world, status, f"lc-{status}-{action}")
    code, answer = await act(world, campaign_id, action, revision)
    shown = (await world.get(f"/api/v1/campaigns/{campaign_id}")).json()
    after = TRANSITIONS.get((status, action))
    if after is not None:
        assert code == 200, answer
        assert answer["status"] == after == shown["status"]
        assert answer["revision"] == revision + 1
        assert world.published[-1][3] == {"campaigns": [campaign_id]}
        assert action in world.published[-1][2]
    else:
        assert code == 409, answer
        assert answer["detail"] and answer["errors"][0]["path"] == "status"
        assert shown["status"] == status and shown["revision"] == revision


async def test_the_guards(world: World) -> None:
    # Cancel needs a reason: the body says so at its path.
    campaign_id, revision = await campaign_in(world, "draft", "guard-reason")
    for body in (None, {}, {"reason": ""}):
        answer = await world.send("POST", f"/api/v1/campaigns/{campaign_id}/cancel", body,
                                  revision=revision)
        assert answer.status_code in (400, 422), answer.text
    code, answer = await act(world, campaign_id, "cancel", revision, reason="   ")
    assert code == 409 and "reason" in answer["detail"]
    code, answer = await act(world, campaign_id, "cancel", revision, reason="duplicate")
    assert code == 200
    (row,) = await world.sql("SELECT after->>'reason' FROM audit WHERE entity_id = %s "
                             "AND action = 'cancel'", campaign_id)
    assert row == ("duplicate",)
    # An end in the past: no activation, and no resume.
    campaign_id, revision = await campaign_in(world, "paused", "guard-ended")
    ended = await world.send("PATCH", f"/api/v1/campaigns/{campaign_id}",
                             {"schedule": {"end": "2020-01-01T00:00:00"}}, revision=revision)
    assert ended.status_code == 200, ended.text
    code, answer = await act(world, campaign_id, "resume", revision + 1)
    assert code == 409 and "ended" in answer["detail"]
    # A final campaign cannot be edited: duplicate it.
    campaign_id, revision = await campaign_in(world, "completed", "guard-final")
    edit = await world.send("PATCH", f"/api/v1/campaigns/{campaign_id}", {"name": "again"},
                            revision=revision)
    assert edit.status_code == 409 and "duplicate" in edit.json()["detail"]
    # Deleting an active campaign is refused: pause it first.
    campaign_id, revision = await campaign_in(world, "active", "guard-delete")
    gone = await world.send("DELETE", f"/api/v1/campaigns/{campaign_id}", revision=revision)
    assert gone.status_code == 409 and "pause" in gone.json()["detail"]
    # The lifecycle needs If-Match like every write.
    assert (await world.send("POST", f"/api/v1/campaigns/{campaign_id}/pause")
            ).status_code == 428


async def test_duplicate(world: World) -> None:
    first = (await world.send("POST", "/api/v1/campaigns/summer/duplicate", {})).json()
    second = (await world.send("POST", "/api/v1/campaigns/summer/duplicate", {})).json()
    assert (first["id"], second["id"]) == ("summer-copy", "summer-copy-2")
    assert first["code"] != second["code"] and first["status"] == "draft"
    assert first["name"] == "Instagram summer (copy)"
    summer = (await world.get("/api/v1/campaigns/summer")).json()
    same = {k: v for k, v in summer.items() if k not in ("id", "code", "name", "status",
                                                         "revision")}
    assert {k: first[k] for k in same} == same
    named = await world.send("POST", "/api/v1/campaigns/summer/duplicate",
                             {"id": "summer-2026", "code": "SUMMER_26", "name": "Summer 26"})
    assert named.status_code == 201 and named.json()["code"] == "SUMMER_26"
    clash = await world.send("POST", "/api/v1/campaigns/summer/duplicate",
                             {"code": "INSTA_SUMMER_01"})
    assert clash.status_code == 422 and clash.json()["errors"][0]["path"] == "code"
    assert (await world.send("POST", "/api/v1/campaigns/nope/duplicate", {})
            ).status_code == 404


async def test_children(world: World) -> None:
    children = await world.get("/api/v1/campaigns/summer/children")
    assert [c["id"] for c in children.json()["items"]] == ["summer-stories"]
    assert (await world.get("/api/v1/campaigns/camp-a/children")).json()["items"] == []
    assert (await world.get("/api/v1/campaigns/nope/children")).status_code == 404
    assert (await world.get("/api/v1/campaigns/summer/children?parent=x")
            ).status_code == 400


async def test_bulk_answers_per_id(world: World) -> None:
    active, active_revision = await campaign_in(world, "active", "bulk-active")
    draft, _ = await campaign_in(world, "draft", "bulk-draft")
    paused, _ = await campaign_in(world, "paused", "bulk-paused")
    calls = len(world.published)
    answer = await world.send("POST", "/api/v1/campaigns/bulk/pause",
                              {"ids": [active, draft, "nope", paused]})
    assert answer.status_code == 200, answer.text
    results = {r["id"]: r for r in answer.json()["results"]}
    assert [r["id"] for r in answer.json()["results"]] == [active, draft, "nope", paused]
    assert results[active] == {"id": active, "status": 200, "outcome": "paused",
                               "revision": active_revision + 1}
    assert results[draft]["status"] == 409 and "draft" in results[draft]["error"]
    assert results[paused]["status"] == 409
    assert results["nope"]["status"] == 404
    assert [call[3] for call in world.published[calls:]] == [{"campaigns": [active]}]
    # Activate them back, one with a stale revision: 412 for it, the other done.
    answer = await world.send("POST", "/api/v1/campaigns/bulk/activate", {
        "ids": [draft, active], "revisions": {active: active_revision}})
    results = {r["id"]: r for r in answer.json()["results"]}
    assert results[active]["status"] == 412 and results[draft]["outcome"] == "active"
    # Delete: a draft goes, a paused one that ran is archived, an active one is refused.
    answer = await world.send("POST", "/api/v1/campaigns/bulk/delete",
                              {"ids": [paused, draft]})
    results = {r["id"]: r for r in answer.json()["results"]}
    assert results[paused]["outcome"] == "archived"
    assert results[draft]["status"] == 409  # it is active now
    fresh, _ = await campaign_in(world, "draft", "bulk-fresh")
    answer = await world.send("POST", "/api/v1/campaigns/bulk/delete", {"ids": [fresh]})
    assert answer.json()["results"] == [{"id": fresh, "status": 200, "outcome": "deleted"}]
    # The body is checked whole first.
    for body in ({"ids": []}, {"ids": ["a", "a"]}, {"ids": ["a"], "revisions": {"b": 1}},
                 {"ids": ["a"], "colour": 1}):
        bad = await world.send("POST", "/api/v1/campaigns/bulk/pause", body)
        assert bad.status_code == 422, (body, bad.text)
    # Viewers cannot.
    assert (await world.send("POST", "/api/v1/campaigns/bulk/pause", {"ids": [active]},
                             role="viewer")).status_code == 403
