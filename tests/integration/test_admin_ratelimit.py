"""Per-key rate limits on real Valkey: the Lua script is the token bucket model exactly;
a key over its rate gets 429 with Retry-After while another key is unaffected; Redis out of
reach lets requests through."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.integration.admin_support import (
    admin_app,
    bearer,
    clickhouse_database,
    facts_for,
    make_key,
    make_workspaces,
)
from tests.integration.control_support import control_database
from turnout.api.admin import token_bucket
from turnout.api.admin.ratelimit import TAKE
from turnout.local.services import free_port


@pytest.fixture(scope="module")
def chdb_database(clickhouse_dsn: str) -> Iterator[tuple[str, str]]:
    with clickhouse_database(clickhouse_dsn, "admin_rate") as database:
        yield database


@pytest.fixture(scope="module")
def script(redis_url: str) -> Iterator[redis.commands.core.Script]:
    client = redis.Redis.from_url(redis_url)
    yield client.register_script(TAKE)
    client.close()


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(per_minute=st.integers(min_value=1, max_value=100_000),
       steps=st.lists(st.floats(min_value=-5, max_value=90, allow_nan=False), min_size=1,
                      max_size=40))
def test_the_script_is_the_model(script, per_minute, steps):
    bucket = f"test:bucket:{uuid.uuid4().hex}"
    rate = token_bucket.per_second(per_minute)
    state, now = None, 1.7e9
    for step in steps:
        now += step  # negative steps: a host whose clock is behind
        allowed, state = token_bucket.take(state, now, per_minute, rate)
        got_allowed, tokens, at = script(keys=[bucket], args=[per_minute, repr(rate), repr(now)])
        assert (bool(int(got_allowed)), float(tokens), float(at)) == (
            allowed, state.tokens, state.at)


async def test_over_the_rate_is_429_and_other_keys_are_unaffected(postgres_url, redis_url,
                                                                  chdb_database):
    db = control_database(postgres_url)
    await make_workspaces(db, "acme")
    slow = await make_key(db, "acme", "viewer", rate_per_minute=3)
    other = await make_key(db, "acme", "viewer", rate_per_minute=3)
    async with admin_app(db, redis_url, chdb_database, facts_for("acme")) as (_, http):
        answers = [await http.get("/api/v1/audit", headers=bearer(slow)) for _ in range(4)]
        assert [a.status_code for a in answers] == [200, 200, 200, 429]
        assert [a.headers["ratelimit-remaining"] for a in answers] == ["2", "1", "0", "0"]
        assert {a.headers["ratelimit-limit"] for a in answers} == {"3"}
        refused = answers[-1]
        assert refused.headers["content-type"] == "application/problem+json"
        assert int(refused.headers["retry-after"]) >= 1
        assert 1 <= int(refused.headers["ratelimit-reset"]) <= 60
        fine = await http.get("/api/v1/audit", headers=bearer(other))
        assert fine.status_code == 200 and fine.headers["ratelimit-remaining"] == "2"
        # The report routes draw from the same bucket.
        report = await http.get("/api/v1/report", headers=bearer(slow))
        assert report.status_code == 429


async def test_redis_out_of_reach_fails_open(postgres_url, chdb_database, caplog):
    db = control_database(postgres_url)
    await make_workspaces(db, "acme")
    viewer = await make_key(db, "acme", "viewer", rate_per_minute=1)
    dead = f"redis://127.0.0.1:{free_port()}/0"
    async with admin_app(db, dead, chdb_database, facts_for("acme")) as (_, http):
        answers = [await http.get("/api/v1/audit", headers=bearer(viewer)) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert all("ratelimit-limit" not in a.headers for a in answers)
    assert sum("rate limits are off" in r.message for r in caplog.records) == 1
