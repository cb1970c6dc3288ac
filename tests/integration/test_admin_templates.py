"""Templates over the API on a real PostgreSQL: the questions and templates listed,
campaigns created from the two answers or a template id (every entity in one
transaction, each audited), problems at the body's paths, save-as-template and back."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.integration.entities_support import A, World, entity_world, new_request_id

SAFE = "https://www.example.com/safe"


@pytest.fixture
async def world(postgres_url: str, redis_url: str, clickhouse_dsn: str
                ) -> AsyncIterator[World]:
    async with entity_world(postgres_url, redis_url, clickhouse_dsn) as w:
        yield w


async def test_the_templates_and_questions(world: World) -> None:
    answer = (await world.get("/api/v1/templates")).json()
    assert [q["id"] for q in answer["questions"]] == ["promoted", "where"]
    builtins = [t for t in answer["items"] if t["builtin"]]
    assert len(builtins) == 6 == len(answer["items"])
    assert {(t["promoted"], t["where"]) for t in builtins} == {
        (p, w) for p in ("ecommerce", "online_offer") for w in ("own_site", "social", "other")}
    assert all(t["explanation"] and t["layout"] for t in builtins)


async def test_from_the_two_answers_with_new_entities(world: World) -> None:
    rid = new_request_id()
    body = {"promoted": "online_offer", "where": "other", "picks": {
        "campaign_id": "push-vpn", "name": "Push VPN", "code": "PUSH_VPN",
        "new_traffic_source": {"id": "push-2", "name": "Push network 2"},
        "safe_page": SAFE,
        "offers": [
            {"new": {"id": "vpn-de", "name": "VPN DE", "network": "alpha-net",
                     "url": "https://o.example.com/de?c={clickid}", "payout": "4.00"},
             "countries": ["DE"]},
            {"id": "vpn-global"},
        ]}}
    answer = await world.send("POST", "/api/v1/campaigns/from-template", body,
                              request_id=rid)
    assert answer.status_code == 201, answer.text
    created = answer.json()["created"]
    assert answer.json()["template"]["id"] == "offer-paid"
    assert {k: [e["id"] for e in v] for k, v in created.items()} == {
        "traffic_sources": ["push-2"], "offers": ["vpn-de"], "campaigns": ["push-vpn"]}
    (campaign,) = created["campaigns"]
    assert campaign["status"] == "draft" and campaign["workspace"] == A
    assert campaign["bot_policy"] == {"action": "url", "url": SAFE}
    shown = (await world.get("/api/v1/campaigns/push-vpn")).json()
    assert shown == campaign
    # One audit row per entity created, all with this request's id; one publish.
    rows = await world.sql("SELECT entity_kind, entity_id, action FROM audit "
                           "WHERE request_id = %s ORDER BY id", rid)
    assert rows == [("traffic_sources", "push-2", "create"), ("offers", "vpn-de", "create"),
                    ("campaigns", "push-vpn", "create")]
    assert world.published[-1][3] == {"traffic_sources": ["push-2"], "offers": ["vpn-de"],
                                      "campaigns": ["push-vpn"]}


async def test_problems_are_at_the_body_paths_and_nothing_is_created(world: World) -> None:
    # Input problems: under picks.
    answer = await world.send("POST", "/api/v1/campaigns/from-template", {
        "promoted": "online_offer", "where": "other", "picks": {
            "campaign_id": "push-x", "name": "X", "code": "PUSH_X", "offers": [{}]}})
    assert answer.status_code == 422
    assert {e["path"] for e in answer.json()["errors"]} == {
        "picks.traffic_source", "picks.offers[0]", "picks.safe_page"}
    # What the built entities would break: under created.
    answer = await world.send("POST", "/api/v1/campaigns/from-template", {
        "promoted": "online_offer", "where": "other", "picks": {
            "campaign_id": "push-x", "name": "X", "code": "CAMP_A",
            "traffic_source": "social-ads", "safe_page": SAFE,
            "offers": [{"id": "no-such-offer"}]}})
    assert answer.status_code == 422, answer.text
    paths = {e["path"] for e in answer.json()["errors"]}
    assert {"created.campaigns[0].default[0].ref", "created.campaigns[0].cost_model.type",
            } <= paths
    # A code in use is found by the database check, still under created.
    answer = await world.send("POST", "/api/v1/campaigns/from-template", {
        "promoted": "online_offer", "where": "own_site", "picks": {
            "campaign_id": "blog-x", "name": "X", "code": "CAMP_A",
            "new_traffic_source": {"id": "blog-src", "name": "Blog"},
            "inactive_page": "https://www.example.com/", "offers": [{"id": "vpn-us"}]}})
    assert answer.status_code == 422, answer.text
    assert answer.json()["errors"][0]["path"] == "created.campaigns[0].code"
    # Nothing of any of these was stored: the new source of the last one neither.
    assert (await world.get("/api/v1/traffic-sources/blog-src")).status_code == 404
    for body, path in (({"picks": {"campaign_id": "a", "name": "a", "code": "A"}},
                        "template"),
                       ({"template": "offer-paid", "promoted": "ecommerce", "picks": {
                           "campaign_id": "a", "name": "a", "code": "A"}}, "template"),
                       ({"promoted": "crypto", "where": "tv", "picks": {
                           "campaign_id": "a", "name": "a", "code": "A"}}, "promoted"),
                       ({"template": "offer-paid", "picks": {
                           "workspace": "beta", "campaign_id": "a", "name": "a",
                           "code": "A"}}, "picks.workspace")):
        refused = await world.send("POST", "/api/v1/campaigns/from-template", body)
        assert refused.status_code == 422, (body, refused.text)
        assert refused.json()["errors"][0]["path"] == path
    missing = await world.send("POST", "/api/v1/campaigns/from-template", {
        "template": "saved-nope", "picks": {"campaign_id": "a", "name": "a", "code": "A"}})
    assert missing.status_code == 404


async def test_save_as_template_and_create_from_it(world: World) -> None:
    saved = await world.send("POST", "/api/v1/campaigns/camp-a/save-as-template",
                             {"name": "Like campaign A", "id": "like-a"})
    assert saved.status_code == 201, saved.text
    template = saved.json()
    assert template["id"] == "like-a" and not template["builtin"]
    listed = (await world.get("/api/v1/templates")).json()["items"]
    assert [t["id"] for t in listed if not t["builtin"]] == ["like-a"]
    again = await world.send("POST", "/api/v1/campaigns/camp-a/save-as-template",
                             {"name": "Again", "id": "like-a"})
    assert again.status_code == 409
    builtin = await world.send("POST", "/api/v1/campaigns/camp-a/save-as-template",
                               {"name": "Clash", "id": "offer-paid"})
    assert builtin.status_code == 409
    assert (await world.sql("SELECT action FROM audit WHERE entity_kind = "
                            "'campaign_templates'")) == [("create",)]
    # camp-a uses landers lp-b, lp-usa, lp-global and offers dating-ru, vpn-us, vpn-global.
    answer = await world.send("POST", "/api/v1/campaigns/from-template", {
        "template": "like-a", "picks": {
            "campaign_id": "camp-a-like", "name": "A again", "code": "CAMP_A_LIKE",
            "traffic_source": "push-net",
            "offers": [{"id": "dating-ru"}, {"id": "vpn-us"}, {"id": "vpn-global"}],
            "landers": [{"id": "lp-b"}, {"id": "lp-usa"}, {"id": "lp-global"}]}})
    assert answer.status_code == 201, answer.text
    like = answer.json()["created"]["campaigns"][0]
    original = (await world.get("/api/v1/campaigns/camp-a")).json()
    assert like["rules"] == original["rules"] and like["default"] == original["default"]
    assert (await world.send("POST", "/api/v1/campaigns/nope/save-as-template",
                             {"name": "x"})).status_code == 404
    # Another workspace does not see acme's saved template.
    theirs = await world.http.get("/api/v1/templates",
                                  headers={"Authorization": f"Bearer {world.foreign}"})
    assert all(t["builtin"] for t in theirs.json()["items"])
