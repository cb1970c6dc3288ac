"""API keys on real PostgreSQL and Valkey: shown once, hashed, roles, expiry, revocation,
last use, audit rows, request ids, the report routes on the same keys."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator, Iterator

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
from turnout.api.keys import key_line, parse_keys
from turnout.local.services import free_port


@pytest.fixture(scope="module")
def chdb_database(clickhouse_dsn: str) -> Iterator[tuple[str, str]]:
    with clickhouse_database(clickhouse_dsn, "admin_keys") as database:
        yield database


@pytest.fixture
async def db(postgres_url: str) -> str:
    url = control_database(postgres_url)
    await make_workspaces(url, "acme", "other")
    return url


@pytest.fixture
async def api(db, redis_url, chdb_database) -> AsyncIterator:
    async with admin_app(db, redis_url, chdb_database, facts_for("acme", "other"),
                         key_cache_s=0.0) as (app, client):
        yield app, client


def audit_rows(url: str, entity_id: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "SELECT actor, action, before, after, request_id, workspace_id FROM audit "
            "WHERE entity_kind = 'key' AND entity_id = %s ORDER BY id", (entity_id,)).fetchall()


async def test_create_list_revoke_with_one_audit_row_each(db, api):
    _, http = api
    owner = await make_key(db, "acme", "owner")
    created = await http.post("/api/v1/keys", json={"role": "admin", "name": "ops"},
                              headers={**bearer(owner), "X-Request-Id": "req-create-1"})
    assert created.status_code == 201, created.text
    body = created.json()
    token, key = body["token"], body["key"]
    assert token.startswith(f"tk_{key['id']}_") and key["prefix"] == f"tk_{key['id']}"
    assert key["role"] == "admin" and key["workspace_id"] == "acme"
    assert created.headers["cache-control"] == "no-store"
    assert created.headers["x-request-id"] == "req-create-1"

    listed = (await http.get("/api/v1/keys", headers=bearer(token))).json()["items"]
    assert {k["id"] for k in listed} >= {key["id"]}
    assert token not in str(listed) and "key_hash" not in listed[0]
    with psycopg.connect(db) as conn:
        stored = conn.execute("SELECT key_hash FROM api_keys WHERE id = %s",
                              (key["id"],)).fetchone()
    assert stored is not None and token.encode() not in bytes(stored[0])

    revoked = await http.delete(f"/api/v1/keys/{key['id']}",
                                headers={**bearer(owner), "X-Request-Id": "req-revoke-1"})
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    after = await http.get("/api/v1/keys", headers=bearer(token))
    assert after.status_code == 401 and "revoked" in after.json()["detail"]
    assert after.headers["content-type"] == "application/problem+json"

    rows = audit_rows(db, key["id"])
    assert [(r[0], r[1], r[4], r[5]) for r in rows] == [
        (owner.split("_")[1], "create", "req-create-1", "acme"),
        (owner.split("_")[1], "revoke", "req-revoke-1", "acme")]
    (_, _, before1, after1, _, _), (_, _, before2, after2, _, _) = rows
    assert before1 is None and after1["role"] == "admin" and after1["revoked_at"] is None
    assert before2 == after1 and after2["revoked_at"] is not None
    assert "key_hash" not in str(rows) and token not in str(rows)
    # Revoking again changes nothing and writes nothing.
    again = await http.delete(f"/api/v1/keys/{key['id']}", headers=bearer(owner))
    assert again.status_code == 200 and len(audit_rows(db, key["id"])) == 2


async def test_who_may_grant_which_role(db, api):
    _, http = api
    admin = await make_key(db, "acme", "admin")
    owner = await make_key(db, "acme", "owner")
    for role, status in (("viewer", 201), ("editor", 201), ("admin", 403), ("owner", 403)):
        answer = await http.post("/api/v1/keys", json={"role": role}, headers=bearer(admin))
        assert answer.status_code == status, (role, answer.text)
    for role in ("admin", "owner"):
        made = await http.post("/api/v1/keys", json={"role": role}, headers=bearer(owner))
        assert made.status_code == 201
        refused = await http.delete(f"/api/v1/keys/{made.json()['key']['id']}",
                                    headers=bearer(admin))
        assert refused.status_code == 403
    editor = await make_key(db, "acme", "editor")
    assert (await http.get("/api/v1/keys", headers=bearer(editor))).status_code == 403


async def test_bad_bodies_are_422_at_their_path(db, api):
    _, http = api
    owner = await make_key(db, "acme", "owner")
    past = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)).isoformat()
    for body, path in (({"role": "root"}, "role"), ({"role": "viewer", "colour": 1}, "colour"),
                       ({}, "role"), ({"role": "viewer", "rate_per_minute": 0},
                                      "rate_per_minute"),
                       ({"role": "viewer", "expires_at": past}, "expires_at"),
                       ({"role": "viewer", "expires_at": "2030-01-01T00:00:00"},
                        "expires_at")):
        answer = await http.post("/api/v1/keys", json=body, headers=bearer(owner))
        assert answer.status_code == 422, (body, answer.text)
        assert answer.json()["errors"][0]["path"] == path, body
    broken = await http.post("/api/v1/keys", content=b"{", headers=bearer(owner))
    assert broken.status_code == 400


async def test_missing_malformed_unknown_expired_keys_are_401(db, api):
    _, http = api
    soon = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1)
    expiring = await make_key(db, "acme", "viewer", expires_at=soon)
    assert (await http.get("/api/v1/audit", headers=bearer(expiring))).status_code == 200
    _, forged_base = expiring.split("_", 1)
    cases = {
        "no key": {},
        "not bearer": {"Authorization": f"Basic {expiring}"},
        "malformed": bearer("tk_nope"),
        "unknown id": bearer(f"tk_{'a' * 12}_{'B' * 43}"),
        "wrong secret": bearer(f"tk_{forged_base[:12]}_{'C' * 43}"),
    }
    for name, headers in cases.items():
        answer = await http.get("/api/v1/audit", headers=headers)
        assert answer.status_code == 401, name
        assert answer.headers["www-authenticate"] == "Bearer", name
        assert "ratelimit-limit" not in answer.headers, name
    await asyncio.sleep(max(0.0, (soon - dt.datetime.now(dt.UTC)).total_seconds()) + 0.05)
    expired = await http.get("/api/v1/audit", headers=bearer(expiring))
    assert expired.status_code == 401 and "expired" in expired.json()["detail"]


async def test_keys_of_another_workspace_are_404(db, api):
    _, http = api
    mine = await make_key(db, "acme", "owner")
    theirs = await make_key(db, "other", "owner")
    their_id = theirs.split("_")[1]
    for method in ("GET", "DELETE"):
        answer = await http.request(method, f"/api/v1/keys/{their_id}", headers=bearer(mine))
        assert answer.status_code == 404
        assert answer.json() == (await http.request(
            method, "/api/v1/keys/zzzzzzzzzzzz", headers=bearer(mine))).json()
    listed = (await http.get("/api/v1/keys", headers=bearer(mine))).json()["items"]
    assert {k["workspace_id"] for k in listed} == {"acme"}
    assert (await http.get("/api/v1/keys", headers=bearer(theirs))).status_code == 200


async def test_the_last_owner_key_stays(db, api):
    _, http = api
    only = await make_key(db, "acme", "owner")
    refused = await http.delete(f"/api/v1/keys/{only.split('_')[1]}", headers=bearer(only))
    assert refused.status_code == 409 and "last owner key" in refused.json()["detail"]
    second = (await http.post("/api/v1/keys", json={"role": "owner"},
                              headers=bearer(only))).json()["token"]
    assert (await http.delete(f"/api/v1/keys/{only.split('_')[1]}",
                              headers=bearer(second))).status_code == 200


async def test_last_use_is_written_in_batches(db, api):
    app, http = api
    viewer = await make_key(db, "acme", "viewer")
    key_id = viewer.split("_")[1]

    def last_used() -> dt.datetime | None:
        with psycopg.connect(db) as conn:
            row = conn.execute("SELECT last_used_at FROM api_keys WHERE id = %s",
                               (key_id,)).fetchone()
        return row[0] if row else None

    for _ in range(5):
        assert (await http.get("/api/v1/audit", headers=bearer(viewer))).status_code == 200
    assert last_used() is None  # not a write per request
    await app.state.admin.usage.flush()
    used = last_used()
    assert used is not None and dt.datetime.now(dt.UTC) - used < dt.timedelta(seconds=10)


async def test_request_ids(db, api):
    _, http = api
    viewer = await make_key(db, "acme", "viewer")
    made = (await http.get("/api/v1/audit", headers=bearer(viewer))).headers["x-request-id"]
    assert len(made) == 32
    given = await http.get("/api/v1/audit", headers={**bearer(viewer), "X-Request-Id": "ab-9_Z"})
    assert given.headers["x-request-id"] == "ab-9_Z"
    for bad in ("a" * 65, "has space", "semi;colon"):
        answer = await http.get("/api/v1/audit", headers={**bearer(viewer), "X-Request-Id": bad})
        assert answer.status_code == 400
        assert answer.json()["errors"][0]["path"] == "headers.X-Request-Id"


async def test_report_routes_take_the_same_keys(db, api):
    _, http = api
    viewer = await make_key(db, "acme", "viewer")
    report = await http.get("/api/v1/report", params={"from": "all"}, headers=bearer(viewer))
    assert report.status_code == 200 and report.json()["workspace"] == "acme"
    assert report.headers["ratelimit-limit"] == "600"
    foreign = await http.get("/api/v1/report", params={"workspace": "other"},
                             headers=bearer(viewer))
    assert foreign.status_code == 403


async def test_postgres_down_admin_503_reports_keep_working(redis_url, chdb_database):
    legacy_token = "tok_legacy_report_key"
    dead = f"postgresql://postgres@127.0.0.1:{free_port()}/postgres?connect_timeout=1"
    async with admin_app(dead, redis_url, chdb_database, facts_for("acme"),
                         api_keys=parse_keys(key_line("acme", legacy_token))) as (_, http):
        keys = await http.get("/api/v1/keys", headers=bearer(f"tk_{'a' * 12}_{'B' * 43}"))
        assert keys.status_code == 503 and "PostgreSQL" in keys.json()["detail"]
        assert keys.headers["content-type"] == "application/problem+json"
        report = await http.get("/api/v1/report", params={"from": "all"},
                                headers=bearer(legacy_token))
        assert report.status_code == 200
        # The deprecated keys open the report routes only.
        admin = await http.get("/api/v1/audit", headers=bearer(legacy_token))
        assert admin.status_code == 401


async def test_whoami_names_the_key_its_workspace_and_role_for_every_role(db, api):
    _, http = api
    for role in ("viewer", "editor", "admin", "owner"):
        token = await make_key(db, "other", role)
        answer = await http.get("/api/v1/whoami", headers=bearer(token))
        assert answer.status_code == 200, answer.text
        assert answer.json() == {"key_id": token.split("_")[1], "workspace": "other",
                                 "role": role}
        assert token not in answer.text
    assert (await http.get("/api/v1/whoami")).status_code == 401
