"""/api/v1/import, /export, /versions, /versions/diff and /versions/{n}/rollback on real
PostgreSQL and Valkey: every example file imports unchanged, import -> export -> import is
a fixed point, a dry run changes nothing, problems answer 422 at the document's paths, a
key sees and changes its own workspace only, a rollback brings one workspace back."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import msgspec
import psycopg
import pytest

from tests.integration.admin_support import (
    admin_app,
    bearer,
    clickhouse_database,
    facts_for,
    make_key,
    make_workspaces,
)
from tests.integration.control_support import control_database
from tests.integration.e2e_support import example_in_workspace
from turnout.config import examples
from turnout.config.io import dump_graph, load_graph
from turnout.config.model import Graph
from turnout.config.store import GraphStore

A, B = "acme", "beta"
YAML = {"Content-Type": "application/yaml"}


@pytest.fixture(scope="module")
def chdb_database(clickhouse_dsn: str) -> Iterator[tuple[str, str]]:
    with clickhouse_database(clickhouse_dsn, "admin_versions") as found:
        yield found


@pytest.fixture
async def db(postgres_url: str) -> str:
    url = control_database(postgres_url)
    await make_workspaces(url, A, B)
    return url


@pytest.fixture
async def api(db, redis_url, chdb_database) -> AsyncIterator:
    async with admin_app(db, redis_url, chdb_database, facts_for(A, B)) as (app, client):
        yield app, client


@pytest.fixture
async def keys(db) -> dict[str, str]:
    return {"editor": await make_key(db, A, "editor"), "viewer": await make_key(db, A, "viewer"),
            "other": await make_key(db, B, "editor")}


def in_b() -> Graph:
    """The example in workspace B: other ids, codes and secrets, so both can coexist."""
    graph = example_in_workspace(B)

    def moved(entity: object, **more: object) -> object:
        return msgspec.structs.replace(entity, id=f"b-{entity.id}", **more)  # type: ignore[attr-defined,type-var]

    (workspace,) = graph.workspaces
    pixel = workspace.pixel_key and f"b{workspace.pixel_key[1:]}"
    return Graph(
        workspaces=(msgspec.structs.replace(workspace, pixel_key=pixel),),
        traffic_sources=tuple(moved(e) for e in graph.traffic_sources),
        networks=tuple(moved(e, secret=f"b-{e.secret}",
                             hmac_key=e.hmac_key and f"b-{e.hmac_key}")
                       for e in graph.networks),
        offers=tuple(moved(e, network=f"b-{e.network}",
                           fallback_offer=e.fallback_offer and f"b-{e.fallback_offer}")
                     for e in graph.offers),
        landers=tuple(moved(e) for e in graph.landers),
        funnels=tuple(moved(e, landers=tuple(f"b-{i}" for i in e.landers),
                            offers=tuple(f"b-{i}" for i in e.offers)) for e in graph.funnels),
        campaigns=tuple(_campaign_in_b(c) for c in graph.campaigns))


def _campaign_in_b(campaign):  # type: ignore[no-untyped-def]
    def path(destinations):  # type: ignore[no-untyped-def]
        return tuple(msgspec.structs.replace(
            d, ref=d.ref and f"b-{d.ref}", offers=tuple(f"b-{o}" for o in d.offers))
            for d in destinations)
    rules = tuple(msgspec.structs.replace(r, destinations=path(r.destinations))
                  for r in campaign.rules)
    return msgspec.structs.replace(
        campaign, id=f"b-{campaign.id}", code=f"B_{campaign.code}",
        parent=campaign.parent and f"b-{campaign.parent}",
        traffic_source=f"b-{campaign.traffic_source}", rules=rules,
        default=path(campaign.default))


async def import_(http, token: str, text: str, **params: str):
    return await http.post("/api/v1/import", content=text.encode(), params=params,
                           headers={**bearer(token), **YAML})


async def test_example_imports_unchanged_and_export_is_a_fixed_point(api, keys):
    app, http = api
    example = (examples.GRAPH).read_text()
    first = await import_(http, keys["editor"], example, note="the example")
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["version"] is not None and body["changed"]["campaigns"]
    exported = await http.get("/api/v1/export", params={"format": "yaml"},
                              headers=bearer(keys["viewer"]))
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("application/yaml")
    assert load_graph(exported.text) == load_graph(examples.GRAPH)
    again = await import_(http, keys["editor"], exported.text)
    assert again.status_code == 200 and again.json()["changed"] == {}
    assert again.json()["version"] is None  # nothing changed: no version
    as_json = await http.get("/api/v1/export", params={"format": "json"},
                             headers=bearer(keys["viewer"]))
    assert load_graph(as_json.text, "json") == load_graph(examples.GRAPH)
    # What edges would serve is that graph.
    store: GraphStore = app.state.publisher.store
    current = await store.load_current()
    assert current is not None and current[0] == body["version"]
    assert current[1].campaigns == load_graph(examples.GRAPH).campaigns


async def test_the_broken_example_answers_its_five_problems(api, keys):
    _, http = api
    broken = examples.BROKEN_GRAPH.read_text()
    dry = await import_(http, keys["editor"], broken, dry_run="true")
    assert dry.status_code == 200
    assert not dry.json()["valid"]
    assert [p["path"] for p in dry.json()["problems"]] == [
        "offers[0].network", "landers[0].url", "campaigns[0].rules[0].conditions[0].values",
        "campaigns[0].rules[0].destinations[1].weight", "campaigns[1].code"]
    real = await import_(http, keys["editor"], broken)
    assert real.status_code == 422
    assert real.headers["content-type"] == "application/problem+json"
    assert len(real.json()["errors"]) == 5


async def test_a_dry_run_changes_nothing_and_shows_the_diff(api, keys):
    _, http = api
    await import_(http, keys["editor"], examples.GRAPH.read_text())
    changed = examples.GRAPH.read_text().replace("name: Campaign A", "name: Campaign A2", 1)
    dry = await import_(http, keys["editor"], changed, dry_run="true")
    assert dry.status_code == 200 and dry.json()["valid"]
    assert dry.json()["diff"] == ["campaigns[camp-a].name: 'Campaign A' -> 'Campaign A2'"]
    exported = await http.get("/api/v1/export", headers=bearer(keys["viewer"]))
    assert load_graph(exported.text).campaigns[0].name == "Campaign A"


async def test_a_key_imports_into_its_own_workspace_only(api, keys):
    _, http = api
    await import_(http, keys["editor"], examples.GRAPH.read_text())
    # The example names workspace acme: B's key may not import it.
    answer = await import_(http, keys["other"], examples.GRAPH.read_text())
    assert answer.status_code == 422
    paths = {e["path"] for e in answer.json()["errors"]}
    assert "workspaces" in paths and "campaigns[0].workspace" in paths
    # Ids and codes another workspace uses are refused without naming it.
    clash = dump_graph(example_in_workspace(B))
    answer = await import_(http, keys["other"], clash)
    assert answer.status_code == 422
    assert all("another workspace" in e["message"] for e in answer.json()["errors"])
    assert A not in answer.text
    # B's own graph, on the shared default domain, with codes of its own: fine.
    answer = await import_(http, keys["other"], dump_graph(in_b()))
    assert answer.status_code == 200, answer.text
    code_clash = dump_graph(in_b()).replace("code: B_CAMP_A", "code: CAMP_A")
    answer = await import_(http, keys["other"], code_clash)
    assert answer.status_code == 422
    (error,) = answer.json()["errors"]
    assert error["path"] == "campaigns[0].code" and "another workspace" in error["message"]


async def test_versions_diff_and_rollback_of_one_workspace(db, api, keys):
    _, http = api
    original = examples.GRAPH.read_text()
    v1 = (await import_(http, keys["editor"], original)).json()["version"]
    v2 = (await import_(http, keys["other"], dump_graph(in_b()))).json()["version"]
    changed = original.replace("name: Campaign A", "name: Campaign A2", 1)
    v3 = (await import_(http, keys["editor"], changed, note="rename")).json()["version"]
    assert v1 is not None and v3 is not None and v3 > v1

    listed = await http.get("/api/v1/versions", headers=bearer(keys["viewer"]))
    assert listed.status_code == 200
    items = listed.json()["items"]
    assert [i["version"] for i in items] == [v3, v1]  # B's version is not A's business
    assert items[0]["notes"] == ["rename"] and items[0]["changed"] == {"campaigns": ["camp-a"]}
    assert listed.json()["publishing"]["current"] == v3
    page = await http.get("/api/v1/versions", params={"limit": 1},
                          headers=bearer(keys["viewer"]))
    assert page.json()["next_cursor"] == str(v3)
    older = await http.get("/api/v1/versions", params={"cursor": str(v3)},
                           headers=bearer(keys["viewer"]))
    assert [i["version"] for i in older.json()["items"]] == [v1]

    diff = await http.get("/api/v1/versions/diff", params={"from": v1, "to": v3},
                          headers=bearer(keys["viewer"]))
    assert diff.json() == {"from": v1, "to": v3, "changes": [
        "campaigns[camp-a].name: 'Campaign A' -> 'Campaign A2'"]}
    theirs = await http.get("/api/v1/versions/diff", params={"from": v2, "to": v3},
                            headers=bearer(keys["other"]))
    assert theirs.json()["changes"] == []  # B sees nothing of A's change

    back = await http.post(f"/api/v1/versions/{v1}/rollback", headers=bearer(keys["editor"]))
    assert back.status_code == 200, back.text
    assert back.json()["changed"] == {"campaigns": ["camp-a"]}
    exported = await http.get("/api/v1/export", headers=bearer(keys["viewer"]))
    assert load_graph(exported.text) == load_graph(examples.GRAPH)
    b_graph = await http.get("/api/v1/export", headers=bearer(keys["other"]))
    assert load_graph(b_graph.text) == in_b()  # B kept its entities
    with psycopg.connect(db) as conn:
        rows = conn.execute("SELECT actor, action, before->>'name', after->>'name' FROM audit "
                            "WHERE entity_id = 'camp-a' ORDER BY id").fetchall()
    assert [r[1:] for r in rows] == [("import", None, "Campaign A"),
                                     ("import", "Campaign A", "Campaign A2"),
                                     ("rollback", "Campaign A2", "Campaign A")]
    missing = await http.post("/api/v1/versions/999/rollback", headers=bearer(keys["editor"]))
    assert missing.status_code == 404
    # In version 1, B was its workspace only (made before the first import).
    emptied = await http.post(f"/api/v1/versions/{v1}/rollback", headers=bearer(keys["other"]))
    assert emptied.status_code == 200
    b_graph = await http.get("/api/v1/export", headers=bearer(keys["other"]))
    assert load_graph(b_graph.text).campaigns == ()
    exported = await http.get("/api/v1/export", headers=bearer(keys["viewer"]))
    assert load_graph(exported.text) == load_graph(examples.GRAPH)  # A untouched


async def test_bad_parameters_are_400(api, keys):
    _, http = api
    for path, params in (("/api/v1/versions", {"limit": "0"}),
                         ("/api/v1/versions", {"nope": "1"}),
                         ("/api/v1/versions/diff", {"from": "1"}),
                         ("/api/v1/export", {"format": "xml"})):
        answer = await http.get(path, params=params, headers=bearer(keys["viewer"]))
        assert answer.status_code == 400, (path, params, answer.text)
        assert answer.json()["errors"]
    empty = await import_(http, keys["editor"], "")
    assert empty.status_code == 422
    viewer = await import_(http, keys["viewer"], examples.GRAPH.read_text())
    assert viewer.status_code == 403
