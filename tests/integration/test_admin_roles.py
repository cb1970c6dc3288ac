"""The role matrix, generated from the one route table: every /api/v1 route x {no key,
malformed key, another workspace's key, viewer, editor, admin, owner}.

- no key, a malformed key: 401;
- a role below the route's min_role: 403 (checked before the body and the endpoint);
- the route's min_role and above: anything but 401/403;
- an owner key of workspace B on an id of workspace A: the same answer as for an id that
  exists nowhere (status and title; 404 when the route takes no body), never a success,
  so another workspace's ids are not even revealed to exist.

Path parameters are filled with ids that exist in workspace A: SEEDS says, per path segment
before the parameter, how to get one. A route whose parameter has no seed fails the test:
a new kind of route gets a seed, or the isolation check would be vacuous. The app must
have no /api/v1 route outside the table (the table is the only way a route gets a rule).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import psycopg
import pytest
from starlette.routing import Route

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
from tests.integration.publish_support import record_version
from turnout.api.admin.principal import ROLES, rank
from turnout.api.admin.routes import AdminRoute, table
from turnout.control.graph_write import import_graph

A, B = "acme", "beta"
PARAM = re.compile(r"\{(\w+)(?::\w+)?\}")
MISSING = "zz-missing-0"
GRAPH = example_in_workspace(A)
GRAPH_KINDS = ("traffic_sources", "networks", "offers", "landers", "funnels", "campaigns")


class Global:
    """A parameter whose ids are not workspace-scoped: no isolation check for it."""

    def __init__(self, value: str) -> None:
        self.value = value


Seed = Callable[[str], Awaitable["str | Global"]]


def _graph_seed(kind: str) -> Seed:
    async def seed(url: str) -> str:
        return str(getattr(GRAPH, kind)[0].id)

    return seed


async def _key_seed(url: str) -> str:
    token = await make_key(url, A, "viewer")
    return token.split("_")[1]


async def _version_seed(url: str) -> str:
    """A recorded graph version holding workspace A (B was in none)."""
    await record_version(url, GRAPH)
    return "1"


async def _automation_rule_seed(url: str) -> str:
    async with await psycopg.AsyncConnection.connect(url) as conn:
        await conn.execute(
            "INSERT INTO automation_rules (workspace_id, id, name, metric, op, value, "
            "window_hours, scope, action) VALUES (%s, 'seed-rule', 'Seed', 'roi', '<', 0, 1, "
            "'campaign', 'pause')", (A,))
        await conn.execute(
            "INSERT INTO automation_rule_targets (workspace_id, automation_rule_id, position, "
            "scope, campaign_id) VALUES (%s, 'seed-rule', 0, 'campaign', %s)",
            (A, GRAPH.campaigns[0].id))
    return "seed-rule"


async def _webhook_seed(url: str) -> str:
    async with await psycopg.AsyncConnection.connect(url) as conn:
        await conn.execute(
            "INSERT INTO webhook_endpoints (workspace_id, id, url, secret, events) VALUES "
            "(%s, 'seed-hook', 'https://hooks.example.com/', repeat('s', 20), "
            "'{cap.reached}')", (A,))
    return "seed-hook"


# Path segment before a parameter -> an id of that kind in workspace A.
SEEDS: dict[str, Seed] = {
    **{kind.replace("_", "-"): _graph_seed(kind) for kind in GRAPH_KINDS},
    "keys": _key_seed,
    "versions": _version_seed,
    "rules": _automation_rule_seed,
    "webhooks": _webhook_seed,
}


def segment_of(path: str) -> str:
    before = path[:PARAM.search(path).start()].rstrip("/")  # type: ignore[union-attr]
    return before.rsplit("/", 1)[-1]


def has_params(route: AdminRoute) -> bool:
    return PARAM.search(route.path) is not None


def fill(path: str, ids: dict[str, str | Global], missing: bool = False) -> str:
    def one(match: re.Match[str]) -> str:
        value = ids[segment_of(path[:match.end()])]
        return MISSING if missing else value.value if isinstance(value, Global) else value

    return PARAM.sub(one, path)


def scoped(route: AdminRoute, ids: dict[str, str | Global]) -> bool:
    return has_params(route) and not any(
        isinstance(ids[segment_of(route.path[:m.end()])], Global)
        for m in PARAM.finditer(route.path))


def order(route: AdminRoute) -> tuple[int, str]:
    # Reads first, deletions last: allowed calls change state, later ones must still find it.
    return ({"GET": 0, "DELETE": 2}.get(route.method, 1), route.path)


@pytest.fixture(scope="module")
def chdb_database(clickhouse_dsn: str) -> Iterator[tuple[str, str]]:
    with clickhouse_database(clickhouse_dsn, "admin_roles") as database:
        yield database


@pytest.fixture(scope="module")
async def world(postgres_url: str, redis_url: str, chdb_database) -> AsyncIterator[Any]:
    url = control_database(postgres_url)
    async with await psycopg.AsyncConnection.connect(url) as conn:
        await import_graph(conn, GRAPH)
    await make_workspaces(url, B)
    keys = {role: await make_key(url, A, role) for role in ROLES}
    foreign = await make_key(url, B, "owner")
    routes = sorted(table(), key=order)
    ids: dict[str, str | Global] = {}
    for route in routes:
        for match in PARAM.finditer(route.path):
            segment = segment_of(route.path[:match.end()])
            if segment not in SEEDS:
                pytest.fail(f"{route.method} {route.path}: no seed for `{segment}` ids in "
                            "SEEDS of tests/integration/test_admin_roles.py; add one (an id of "
                            "workspace A, or Global(...) if those ids are not workspace-scoped)")
            if segment not in ids:
                ids[segment] = await SEEDS[segment](url)
    # Both workspaces may write the global exchange rates, so the matrix sees the roles
    # alone; who may write them at all is test_fx_rates.py's.
    async with admin_app(url, redis_url, chdb_database, facts_for(A, B),
                         rate_per_minute=1_000_000, key_cache_s=60.0,
                         fx_writers=(A, B)) as (app, http):
        yield app, http, routes, ids, keys, foreign


async def call(http, route: AdminRoute, path: str, headers: dict[str, str]):
    headers = {**headers, "If-Match": '"1"'}
    if route.body is None:
        return await http.request(route.method, path, headers=headers)
    return await http.request(route.method, path, headers=headers, json={})


async def test_no_api_route_outside_the_table(world):
    app, *_ = world
    routes = table()
    assert routes and all(rank(r.min_role) >= 0 for r in routes)
    served = set()
    for route in app.routes:
        path = getattr(route, "path", "")
        if not path.startswith("/api/"):
            continue
        assert isinstance(route, Route), f"{path}: a mount or other router under /api"
        served |= {(m, path) for m in route.methods or () if m != "HEAD"}
    assert served == {(r.method, r.path) for r in routes}


async def test_the_seeds_exist(world):
    """The matrix below is not vacuous: on every GET route with ids, the least role it
    allows gets a 2xx for the seeded ids (a route that 404s for everyone would pass the
    matrix), and no GET route fails on the server."""
    _, http, routes, ids, keys, _ = world
    for route in routes:
        if route.method == "GET":
            answer = await http.get(fill(route.path, ids), headers=bearer(keys[route.min_role]))
            ok = 200 <= answer.status_code < 300 if has_params(route) else (
                answer.status_code < 500)
            assert ok, (route.path, answer.status_code, answer.text[:200])


async def test_role_matrix(world):
    _, http, routes, ids, keys, foreign = world
    wrong: list[str] = []

    def expect(ok: bool, route: AdminRoute, who: str, answer: Any) -> None:
        if not ok:
            wrong.append(f"{route.method} {route.path} as {who}: {answer.status_code} "
                         f"{answer.text[:160]}")

    # Everything that must be refused first: none of it may change state.
    for route in routes:
        path = fill(route.path, ids)
        for who, headers in (("no key", {}), ("malformed key", bearer("tk_not-a-key")),
                             ("basic auth", {"Authorization": "Basic dXNlcjpwdw=="})):
            answer = await call(http, route, path, headers)
            expect(answer.status_code == 401, route, who, answer)
        for role in ROLES[:rank(route.min_role)]:
            answer = await call(http, route, path, bearer(keys[role]))
            expect(answer.status_code == 403, route, role, answer)
        if scoped(route, ids):
            theirs = await call(http, route, path, bearer(foreign))
            nowhere = await call(http, route, fill(route.path, ids, missing=True),
                                 bearer(foreign))
            same = (theirs.status_code == nowhere.status_code
                    and theirs.json().get("title") == nowhere.json().get("title"))
            expect(same and theirs.status_code >= 400
                   and theirs.status_code not in (401, 403)
                   and (route.body is not None or theirs.status_code == 404),
                   route, f"workspace {B}'s owner (vs a missing id: {nowhere.status_code})",
                   theirs)
    # Then every role the route allows.
    for route in routes:
        path = fill(route.path, ids)
        for role in ROLES[rank(route.min_role):]:
            answer = await call(http, route, path, bearer(keys[role]))
            expect(answer.status_code not in (401, 403), route, role, answer)
        if not scoped(route, ids):
            answer = await call(http, route, path, bearer(foreign))
            expect(answer.status_code not in (401, 403), route, f"workspace {B}'s owner",
                   answer)
    assert not wrong, "\n".join(wrong)
