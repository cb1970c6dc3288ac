"""The entity routes on a real PostgreSQL: CRUD of every kind, every class of validation
problem at its path, conflicts, If-Match between two editors, one audit row per write,
publishing after commit, and lists (filters, sort, cursor)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import msgspec
import orjson
import psycopg
import pytest

from benchmarks.big_graph import generate
from tests.integration.control_support import control_database
from tests.integration.entities_support import A, World, entity_world, new_request_id
from turnout.config import model
from turnout.control.entity_docs import document_of
from turnout.control.entity_write import write_entity
from turnout.control.graph_read import read_graph
from turnout.control.graph_write import import_graph

# One new entity per kind, in the order they can be created (each may name the earlier).
NEW: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    ("traffic-sources", {"id": "ts-new", "name": "New source", "tokens": {"sub1": "zone"}},
     {"name": "Renamed source"}),
    ("networks", {"id": "net-new", "name": "New network", "secret": "new-net-secret-0001"},
     {"ip_allowlist": ["203.0.113.0/24"]}),
    ("offers", {"id": "off-new", "name": "New offer", "network": "net-new",
                "url": "https://o.example.com/?c={clickid}", "payout": "2.50"},
     {"payout": "3.75"}),
    ("landers", {"id": "lp-new", "name": "New lander", "url": "https://l.example.com/"},
     {"name": "Renamed lander"}),
    ("funnels", {"id": "fun-new", "name": "New funnel", "landers": ["lp-new"],
                 "offers": ["off-new"]}, {"name": "Renamed funnel"}),
    ("campaigns", {"id": "camp-new", "name": "New campaign", "code": "NEW_01",
                   "traffic_source": "ts-new", "default": [
                       {"id": "a", "kind": "offer", "ref": "off-new", "weight": 3},
                       {"id": "b", "kind": "lander", "ref": "lp-new", "offers": ["off-new"]},
                       {"id": "c", "kind": "funnel", "ref": "fun-new"}]},
     {"default": [{"id": "a", "kind": "offer", "ref": "off-new", "weight": 1}]}),
]


@pytest.fixture
async def world(postgres_url: str, redis_url: str, clickhouse_dsn: str
                ) -> AsyncIterator[World]:
    async with entity_world(postgres_url, redis_url, clickhouse_dsn) as w:
        yield w


def contains(document: Any, given: Any) -> bool:
    """`document` shows everything `given` says (and the defaults of what it left out)."""
    if isinstance(given, dict):
        return isinstance(document, dict) and all(
            k in document and contains(document[k], v) for k, v in given.items())
    if isinstance(given, list):
        return isinstance(document, list) and len(document) == len(given) and all(
            contains(d, g) for d, g in zip(document, given, strict=True))
    return bool(document == given)


def _without_revision(document: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in document.items() if k != "revision"}


async def test_crud_round_trip_of_every_kind(world: World) -> None:
    created = {}
    for segment, body, change in NEW:
        answer = await world.send("POST", f"/api/v1/{segment}", body)
        assert answer.status_code == 201, answer.text
        doc = answer.json()
        assert doc["revision"] == 1 and answer.headers["etag"] == '"1"'
        assert doc["workspace"] == A and contains(doc, body)
        path = f"/api/v1/{segment}/{body['id']}"
        shown = await world.get(path, role="editor")
        assert shown.json() == doc and shown.headers["etag"] == '"1"'
        listed = (await world.get(f"/api/v1/{segment}?limit=1000", role="editor")
                  ).json()["items"]
        # A campaign is listed without its rules and default path.
        assert {k: v for k, v in doc.items() if k not in ("rules", "default")} in listed
        # PUT the document back with a change (its revision in the body is fine).
        replaced = await world.send("PUT", path, {**doc, "name": doc["name"] + "!"},
                                    revision=1)
        assert replaced.status_code == 200, replaced.text
        assert replaced.json()["revision"] == 2 and replaced.json()["name"].endswith("!")
        patched = await world.send("PATCH", path, change, revision=2)
        assert patched.status_code == 200, patched.text
        after = patched.json()
        assert after["revision"] == 3 and contains(after, change)
        assert (await world.get(path, role="editor")).json() == after
        # Sending the same document again changes nothing: same revision, nothing published.
        calls = len(world.published)
        same = await world.send("PUT", path, _without_revision(after), revision=3)
        assert same.json()["revision"] == 3 and len(world.published) == calls
        created[segment] = after
    # Deleted in reverse (what names an entity goes first).
    for segment, body, _ in reversed(NEW):
        path = f"/api/v1/{segment}/{body['id']}"
        deleted = await world.send("DELETE", path, revision=3)
        assert deleted.status_code == 200, deleted.text
        assert deleted.json() == {"id": body["id"], "outcome": "deleted"}
        assert (await world.get(path)).status_code == 404
    kinds = [entities for *_, entities in world.published]
    assert kinds[0] == {"traffic_sources": ["ts-new"]}
    assert {"campaigns": ["camp-new"]} in kinds


async def test_writes_are_published_after_commit_with_actor_and_note(world: World) -> None:
    revision = await world.revision("/api/v1/campaigns/camp-a")
    answer = await world.send("PATCH", "/api/v1/campaigns/camp-a", {"name": "A2"},
                              revision=revision)
    assert answer.status_code == 200
    workspace, actor, note, entities = world.published[-1]
    assert (workspace, entities) == (A, {"campaigns": ["camp-a"]})
    assert actor == world.keys["editor"].split("_")[1] and "camp-a" in note
    # A refused write publishes nothing.
    calls = len(world.published)
    stale = await world.send("PATCH", "/api/v1/campaigns/camp-a", {"name": "A3"},
                             revision=revision)
    assert stale.status_code == 412 and len(world.published) == calls


CAMPAIGN = {"id": "camp-x", "name": "X", "code": "X_01", "traffic_source": "push-net",
            "default": [{"id": "a", "kind": "offer", "ref": "antivirus"}]}


def campaign(**changes: Any) -> dict[str, Any]:
    return {**CAMPAIGN, **changes}


def default(**destination: Any) -> dict[str, Any]:
    return campaign(default=[{"id": "a", "kind": "offer", "ref": "antivirus", **destination}])


# (name, body of a new campaign, the path of the problem, a word of its message)
INVALID: list[tuple[str, dict[str, Any], str, str]] = [
    ("unknown field", campaign(colour="red"), "colour", "unknown field"),
    ("unknown nested field", default(colour="red"), "default[0].colour", "unknown field"),
    ("wrong type", default(weight="heavy"), "default[0].weight", "Expected `int`"),
    ("missing field", {k: v for k, v in CAMPAIGN.items() if k != "code"}, "code", "required"),
    ("negative weight", default(weight=-1), "default[0].weight", ">= 0"),
    ("missing offer", default(ref="nope"), "default[0].ref", "unknown offer 'nope'"),
    ("another workspace", campaign(workspace="beta"), "workspace", "this key's workspace"),
    ("unknown traffic source", campaign(traffic_source="nope"), "traffic_source", "unknown"),
    ("unknown parent", campaign(parent="nope"), "parent", "unknown campaign"),
    ("bad code", campaign(code="has space"), "code", "must match"),
    ("duplicate code", campaign(code="CAMP_A"), "code", "campaign 'camp-a'"),
    ("not a draft", campaign(status="active"), "status", "draft"),
    ("unknown kind", default(kind="popup"), "default[0].kind", "must be one of"),
    ("CTA count", campaign(default=[{"id": "a", "kind": "lander", "ref": "lp-compare",
                                     "offers": ["antivirus"]}]),
     "default[0].offers", "2 CTA(s)"),
    ("end before start", campaign(schedule={"start": "2030-02-01T00:00:00",
                                            "end": "2030-01-01T00:00:00"}),
     "schedule.end", "after schedule.start"),
    ("condition", campaign(rules=[{"id": "r", "conditions": [{"kind": "planet"}],
                                   "destinations": [{"id": "d", "kind": "offer",
                                                     "ref": "antivirus"}]}]),
     "rules[0].conditions[0].kind", "unknown condition kind"),
    ("rule destination", campaign(rules=[{"id": "r", "destinations": [
        {"id": "d", "kind": "offer", "ref": "antivirus", "weight": -5}]}]),
     "rules[0].destinations[0].weight", ">= 0"),
    ("301 without opt-in", campaign(redirect_mode="301"), "redirect_mode", "allow_permanent"),
    ("nothing servable", default(paused=True), "default", "not paused"),
    ("money as a number", campaign(budget=12.5), "budget", "Expected `str"),
    ("revision on a creation", campaign(revision=4), "revision", "left out"),
    ("reserved id", campaign(id="bulk"), "id", "reserved"),
]


@pytest.mark.parametrize(("name", "body", "path", "words"), INVALID,
                         ids=[case[0] for case in INVALID])
async def test_every_validation_problem_is_422_at_its_path(world: World, name: str,
                                                           body: dict[str, Any], path: str,
                                                           words: str) -> None:
    answer = await world.send("POST", "/api/v1/campaigns", body)
    assert answer.status_code in (409, 422), answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    errors = answer.json()["errors"]
    assert any(e["path"] == path and words in e["message"] for e in errors), errors
    assert (await world.get("/api/v1/campaigns/camp-x")).status_code == 404
    assert (await world.get(f"/api/v1/campaigns/{body.get('id', 'camp-x')}")
            ).status_code == 404


async def test_every_problem_at_once(world: World) -> None:
    body = campaign(traffic_source="nope", code="bad code", default=[
        {"id": "a", "kind": "offer", "ref": "nope", "weight": -1}])
    errors = (await world.send("POST", "/api/v1/campaigns", body)).json()["errors"]
    assert {e["path"] for e in errors} >= {"traffic_source", "code", "default[0].ref",
                                           "default[0].weight"}


async def test_changes_that_break_other_entities(world: World) -> None:
    revision = await world.revision("/api/v1/campaigns/summer-stories")
    # A parent cycle: summer's parent would be its own child.
    summer = await world.revision("/api/v1/campaigns/summer")
    cycle = await world.send("PATCH", "/api/v1/campaigns/summer", {"parent": "summer-stories"},
                             revision=summer)
    assert cycle.status_code == 422
    assert cycle.json()["errors"] == [
        {"path": "parent", "message": "cycle: summer -> summer-stories -> summer"}]
    # An offer's fallback chain back to itself.
    vpn = await world.revision("/api/v1/offers/vpn-global")
    loop = await world.send("PATCH", "/api/v1/offers/vpn-global",
                            {"daily_cap": 5, "fallback_offer": "vpn-us"}, revision=vpn)
    assert loop.status_code == 422 and loop.json()["errors"][0]["path"] == "fallback_offer"
    # A network secret another network has: not named (it may be another workspace's).
    beta = await world.revision("/api/v1/networks/beta-net")
    secret = await world.send("PATCH", "/api/v1/networks/beta-net",
                              {"secret": "alpha-postback-secret-01"}, revision=beta)
    assert secret.status_code == 422
    assert secret.json()["errors"][0]["path"] == "secret"
    assert "alpha" not in secret.json()["errors"][0]["message"]
    # A lander's CTA count that no longer fits the campaigns and funnels showing it.
    compare = await world.revision("/api/v1/landers/lp-compare")
    ctas = await world.send("PATCH", "/api/v1/landers/lp-compare", {"cta_count": 3},
                            revision=compare)
    assert ctas.status_code == 409, ctas.text
    assert {e["path"] for e in ctas.json()["errors"]} == {
        "campaigns[summer].rules[0].destinations[0].offers",
        "campaigns[summer].default[1].offers"}
    # Deleting what others use: 409 naming them.
    offer = await world.revision("/api/v1/offers/antivirus")
    used = await world.send("DELETE", "/api/v1/offers/antivirus", revision=offer)
    assert used.status_code == 409
    assert {e["path"] for e in used.json()["errors"]} == {
        "campaigns[summer].destinations", "funnels[quiz-funnel].offers"}
    source = await world.revision("/api/v1/traffic-sources/social-ads")
    assert (await world.send("DELETE", "/api/v1/traffic-sources/social-ads",
                             revision=source)).status_code == 409
    parent = await world.send("DELETE", "/api/v1/campaigns/summer", revision=summer)
    assert parent.status_code == 409  # active; and it has a child
    # Nothing of it changed anything.
    assert await world.revision("/api/v1/campaigns/summer") == summer
    assert await world.revision("/api/v1/campaigns/summer-stories") == revision
    assert await world.revision("/api/v1/landers/lp-compare") == compare


async def test_ids_are_taken_across_workspaces_without_saying_whose(world: World) -> None:
    mine = await world.send("POST", "/api/v1/offers", {
        "id": "antivirus", "name": "x", "url": "https://x.example/", "network": "beta-net"})
    assert mine.status_code == 409 and "already exists" in mine.json()["detail"]
    theirs = await world.http.post("/api/v1/networks", headers={
        "Authorization": f"Bearer {world.foreign}"}, json={
        "id": "alpha-net", "name": "x", "secret": "some-other-secret-9"})
    assert theirs.status_code == 409 and "acme" not in theirs.text
    # And beta sees none of acme's entities.
    listed = await world.http.get("/api/v1/campaigns", headers={
        "Authorization": f"Bearer {world.foreign}"})
    assert listed.json() == {"items": [], "next_cursor": None}


async def test_if_match(world: World) -> None:
    path = "/api/v1/campaigns/camp-a"
    revision = await world.revision(path)
    missing = await world.send("PATCH", path, {"name": "x"})
    assert missing.status_code == 428
    bad = await world.http.patch(path, json={"name": "x"},
                                 headers={**world.headers(), "If-Match": "yesterday"})
    assert bad.status_code == 400 and bad.json()["errors"][0]["path"] == "headers.If-Match"
    # Both spellings of the revision work.
    plain = await world.http.patch(path, json={"name": "y"},
                                   headers={**world.headers(), "If-Match": str(revision)})
    assert plain.status_code == 200
    mismatch = await world.send("PUT", path, {**(await world.get(path)).json(),
                                              "revision": revision}, revision=revision + 1)
    assert mismatch.status_code == 422 and mismatch.json()["errors"][0]["path"] == "revision"


async def test_two_editors_with_the_same_revision(world: World) -> None:
    path = "/api/v1/offers/vpn-us"
    revision = await world.revision(path)
    first = await world.send("PATCH", path, {"payout": "13.00"}, revision=revision)
    assert first.status_code == 200
    second = await world.send("PATCH", path, {"payout": "99.00"}, revision=revision,
                              role="owner")
    assert second.status_code == 412
    assert second.headers["etag"] == f'"{revision + 1}"'
    assert "revision" in second.json()["detail"]
    shown = (await world.get(path)).json()
    assert shown["payout"] == "13.00" and shown["revision"] == revision + 1
    # At the same moment: one wins, the other is told, nothing is lost or mixed.
    current = revision + 1
    answers = await asyncio.gather(*(
        world.send("PATCH", path, {"payout": payout}, revision=current, role=role)
        for payout, role in (("20.00", "editor"), ("30.00", "admin"))))
    assert sorted(a.status_code for a in answers) == [200, 412]
    (won,) = [a.json() for a in answers if a.status_code == 200]
    assert (await world.get(path)).json() == won and won["revision"] == current + 1
    # A stale delete changes nothing either.
    assert (await world.send("DELETE", "/api/v1/offers/vpn-us", revision=revision)
            ).status_code == 412


async def test_every_write_leaves_exactly_one_audit_row(world: World) -> None:
    writes: list[tuple[str, str, Any, int | None, str, bool, bool]] = [
        ("POST", "/api/v1/landers", {"id": "lp-audit", "name": "L",
                                     "url": "https://l.example/"}, None, "create", False, True),
        ("PATCH", "/api/v1/landers/lp-audit", {"name": "L2"}, 1, "update", True, True),
        ("PUT", "/api/v1/landers/lp-audit", {"id": "lp-audit", "name": "L3",
                                             "url": "https://l.example/"}, 2, "update",
         True, True),
        ("DELETE", "/api/v1/landers/lp-audit", None, 3, "delete", True, False),
        ("POST", "/api/v1/campaigns/summer/pause", None,
         await world.revision("/api/v1/campaigns/summer"), "pause", True, True),
        ("POST", "/api/v1/campaigns/camp-a/duplicate", {"id": "camp-a2"}, None, "duplicate",
         False, True),
    ]
    for method, path, body, revision, action, has_before, has_after in writes:
        rid = new_request_id()
        answer = await world.send(method, path, body, revision=revision, request_id=rid)
        assert answer.status_code in (200, 201), (path, answer.text)
        rows = await world.sql("SELECT action, actor, workspace_id, before IS NOT NULL, "
                               "after IS NOT NULL, after FROM audit WHERE request_id = %s",
                               rid)
        assert len(rows) == 1, (path, rows)
        got, actor, workspace, before, after, document = rows[0]
        assert (got, workspace, before, after) == (action, A, has_before, has_after), path
        assert actor == world.keys["editor"].split("_")[1]
        if document is not None and "revision" in answer.json():
            assert document["id"] == answer.json()["id"]
    # A refused write leaves none.
    rid = new_request_id()
    await world.send("POST", "/api/v1/campaigns", campaign(code="CAMP_A"), request_id=rid)
    assert await world.sql("SELECT 1 FROM audit WHERE request_id = %s", rid) == []
    # Secrets are not in the log.
    net = await world.revision("/api/v1/networks/alpha-net")
    rid = new_request_id()
    await world.send("PATCH", "/api/v1/networks/alpha-net", {"name": "Alpha"}, revision=net,
                     request_id=rid)
    (row,) = await world.sql("SELECT before::text, after::text FROM audit "
                             "WHERE request_id = %s", rid)
    assert "alpha-postback-secret-01" not in "".join(row)


async def test_delete_a_campaign_that_ran_archives_it(world: World) -> None:
    # summer-stories was imported active: it may have clicks.
    path = "/api/v1/campaigns/summer-stories"
    revision = await world.revision(path)
    paused = await world.send("POST", f"{path}/pause", revision=revision)
    archived = await world.send("DELETE", path, revision=paused.json()["revision"])
    assert archived.json() == {"id": "summer-stories", "outcome": "archived"}
    assert (await world.get(path)).status_code == 404
    assert [r[0] for r in await world.sql(
        "SELECT archived_at IS NOT NULL FROM campaigns WHERE id = 'summer-stories'")] == [True]
    # Its code stays taken, and its id.
    again = await world.send("POST", "/api/v1/campaigns",
                             campaign(code="INSTA_SUMMER_01_STORIES"))
    assert again.status_code == 422 and "archived" in again.json()["errors"][0]["message"]
    taken = await world.send("POST", "/api/v1/campaigns", campaign(id="summer-stories"))
    assert taken.status_code == 409 and "archived" in taken.json()["detail"]
    # Its paths are gone, so what only it named can be deleted now.
    children = (await world.get("/api/v1/campaigns/summer/children")).json()
    assert children["items"] == []
    # A campaign that never ran is deleted outright.
    draft = await world.send("POST", "/api/v1/campaigns", CAMPAIGN)
    gone = await world.send("DELETE", "/api/v1/campaigns/camp-x",
                            revision=draft.json()["revision"])
    assert gone.json()["outcome"] == "deleted"
    assert await world.sql("SELECT 1 FROM campaigns WHERE id = 'camp-x'") == []


async def _make_campaigns(world: World, n: int) -> list[str]:
    ids = []
    for i in range(n):
        body = campaign(id=f"bulk-{i:02d}", code=f"BULK_{i:02d}", name=f"Zeta {n - i:02d}")
        answer = await world.send("POST", "/api/v1/campaigns", body)
        assert answer.status_code == 201, answer.text
        ids.append(body["id"])
    return ids


async def test_lists_filter_sort_and_page(world: World) -> None:
    ids = await _make_campaigns(world, 7)
    everything = (await world.get("/api/v1/campaigns?limit=1000")).json()
    assert [c["id"] for c in everything["items"]] == ["camp-a", "summer", "summer-stories",
                                                      *ids]  # creation order
    assert everything["next_cursor"] is None
    # Pages of 3 by name, descending: the same rows as one page, none twice.
    seen, cursor = [], None
    while True:
        query = "sort=-name&limit=3" + (f"&cursor={cursor}" if cursor else "")
        page = (await world.get(f"/api/v1/campaigns?{query}")).json()
        seen += [c["name"] for c in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    names = [c["name"] for c in everything["items"]]
    assert seen == sorted(names, reverse=True)
    # Filters.
    drafts = (await world.get("/api/v1/campaigns?status=draft")).json()["items"]
    assert [c["id"] for c in drafts] == ids
    active = (await world.get("/api/v1/campaigns?status=active,paused")).json()["items"]
    assert {c["id"] for c in active} == {"camp-a", "summer", "summer-stories"}
    found = (await world.get("/api/v1/campaigns?q=insta_summer")).json()["items"]
    assert {c["id"] for c in found} == {"summer", "summer-stories"}  # by code, any case
    children = (await world.get("/api/v1/campaigns?parent=summer")).json()["items"]
    assert [c["id"] for c in children] == ["summer-stories"]
    assert (await world.get("/api/v1/campaigns/summer/children")).json()["items"] == children
    recent = (await world.get("/api/v1/campaigns?sort=-updated_at&limit=2")).json()
    assert [c["id"] for c in recent["items"]] == [ids[-1], ids[-2]]
    offers = (await world.get("/api/v1/offers?q=vpn&sort=id")).json()["items"]
    assert [o["id"] for o in offers] == ["vpn-global", "vpn-us"]


@pytest.mark.parametrize(("query", "param"), [
    ("limit=0", "limit"), ("limit=1001", "limit"), ("limit=ten", "limit"),
    ("sort=colour", "sort"), ("status=running", "status"), ("cursor=%%%", "cursor"),
    ("colour=red", "colour"),
])
async def test_bad_list_parameters_are_400(world: World, query: str, param: str) -> None:
    answer = await world.get(f"/api/v1/campaigns?{query}")
    assert answer.status_code == 400, answer.text
    assert answer.json()["errors"][0]["path"] == param
    assert (await world.get("/api/v1/offers?status=draft")).status_code == 400


async def test_a_cursor_belongs_to_its_sort(world: World) -> None:
    await _make_campaigns(world, 3)
    page = (await world.get("/api/v1/campaigns?sort=name&limit=2")).json()
    other = await world.get(f"/api/v1/campaigns?sort=-name&cursor={page['next_cursor']}")
    assert other.status_code == 400 and "sort" in other.json()["detail"]


async def test_patch_is_a_json_merge_patch(world: World) -> None:
    path = "/api/v1/campaigns/summer"
    revision = await world.revision(path)
    answer = await world.send("PATCH", path, {"budget": None, "cost_model": {"value": "0.05"},
                                              "inactive": {"action": "not_found", "url": None}},
                              revision=revision)
    assert answer.status_code == 200, answer.text
    doc = answer.json()
    assert doc["budget"] is None and doc["cost_model"] == {"type": "cpc", "value": "0.05"}
    assert doc["inactive"] == {"action": "not_found", "url": None}
    source = "/api/v1/traffic-sources/push-net"
    tokens = await world.send("PATCH", source, {"tokens": {"sub2": None, "sub3": "site"}},
                              revision=await world.revision(source))
    assert tokens.json()["tokens"] == {"sub1": "zoneid", "sub3": "site", "cost": "bid",
                                       "external_id": "clickid"}
    for patch, where in (({"colour": 1}, "colour"), ({"cost_model": {"colour": 1}},
                                                     "cost_model.colour"),
                         ({"id": "other"}, "id"), ({"status": "paused"}, "status"),
                         ({"rules": [{"id": "r"}]}, "rules[0].destinations")):
        refused = await world.send("PATCH", path, patch, revision=revision + 1)
        assert refused.status_code == 422, (patch, refused.text)
        assert refused.json()["errors"][0]["path"] == where, (patch, refused.json())
    assert await world.revision(path) == revision + 1


async def test_the_stored_listing_is_the_campaign_without_its_paths(postgres_url: str) -> None:
    """campaigns.listing (kept by trigger, migration 0002) must say what graph_read says
    of the same campaign, for every writer: import, and the single-entity writer."""
    graph = generate(40)
    async with await psycopg.AsyncConnection.connect(control_database(postgres_url)) as conn:
        await import_graph(conn, graph)
        changed = msgspec.structs.replace(graph.campaigns[0], name="Changed", budget="12.50",
                                          schedule=model.Schedule(end="2031-01-01T00:00:00"))
        await write_entity(conn, changed, "UTC")
        stored = await read_graph(conn)
        rows = dict(await (await conn.execute("SELECT id, listing FROM campaigns")).fetchall())
    assert stored.campaigns[0] == changed
    for campaign in stored.campaigns:
        expected = {k: v for k, v in document_of(campaign).items()
                    if k not in ("rules", "default")}
        assert orjson.loads(rows[campaign.id]) == expected, campaign.id


async def test_viewers_read_networks_without_their_secrets(world: World) -> None:
    for role, hidden in (("viewer", True), ("editor", False), ("owner", False)):
        one = (await world.get("/api/v1/networks/beta-net", role=role)).json()
        listed = (await world.get("/api/v1/networks", role=role)).json()["items"]
        secrets = {one["secret"], one["hmac_key"],
                   *(n["secret"] for n in listed)}
        assert (secrets == {"***"}) is hidden, (role, secrets)
