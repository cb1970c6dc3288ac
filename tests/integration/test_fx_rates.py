"""Exchange rates on real chdb, PostgreSQL keys and Valkey: PUT/GET /api/v1/fx/rates (roles,
writers, every bad line at its path, nothing imported then) and `turnout fx import` through
the real CLI entry point."""

from __future__ import annotations

import contextlib
import io
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import clickhouse_connect
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
from turnout.cli.main import main
from turnout.errors import EXIT_BAD_INPUT, EXIT_OK

CSV = {"Content-Type": "text/csv"}
GOOD = "date,currency,rate\n2024-03-01,USD,1.0825\n2024-03-01,GBP,0.8567\n2024-03-02,USD,1.09\n"


@pytest.fixture(scope="module")
def chdb_database(clickhouse_dsn: str) -> Iterator[tuple[str, str]]:
    with clickhouse_database(clickhouse_dsn, "fx_rates") as database:
        yield database


@pytest.fixture
async def db(postgres_url: str) -> str:
    url = control_database(postgres_url)
    await make_workspaces(url, "ops", "tenant")
    return url


@pytest.fixture
async def api(db, redis_url, chdb_database) -> AsyncIterator:
    async with admin_app(db, redis_url, chdb_database, facts_for("ops", "tenant"),
                         fx_writers=("ops",)) as (app, client):
        yield app, client


def _stored(chdb_database: tuple[str, str]) -> list[tuple]:
    dsn, database = chdb_database
    client = clickhouse_connect.get_client(dsn=dsn, database=database)
    return [tuple(r) for r in client.query(
        "SELECT toString(day), currency, base, toString(rate) FROM fx_rates_latest"
        " WHERE currency != base ORDER BY day, currency").result_rows]


async def test_only_owners_of_writer_workspaces_replace_rates(db, api, chdb_database):
    _, http = api
    ops_owner, ops_admin = await make_key(db, "ops", "owner"), await make_key(db, "ops", "admin")
    tenant_owner, viewer = await make_key(db, "tenant", "owner"), await make_key(db, "tenant",
                                                                                 "viewer")
    assert (await http.put("/api/v1/fx/rates", content=GOOD, headers={
        **CSV, **bearer(ops_admin)})).status_code == 403  # not an owner
    other = await http.put("/api/v1/fx/rates", content=GOOD,
                           headers={**CSV, **bearer(tenant_owner)})
    assert other.status_code == 403 and "TURNOUT_FX_WRITERS" in other.json()["detail"]
    assert _stored(chdb_database) == []
    done = await http.put("/api/v1/fx/rates", content=GOOD,
                          headers={**CSV, **bearer(ops_owner)})
    assert done.status_code == 200, done.text
    assert {k: done.json()[k] for k in ("base", "days", "rates", "first", "last")} == {
        "base": "EUR", "days": 2, "rates": 3, "first": "2024-03-01", "last": "2024-03-02"}
    # Anyone may read them: market data, not a workspace's.
    listed = await http.get("/api/v1/fx/rates", params={"from": "2024-03-01", "to": "2024-03-01"},
                            headers=bearer(viewer))
    assert listed.json() == {"items": [
        {"date": "2024-03-01", "currency": "GBP", "base": "EUR", "rate": "0.8567"},
        {"date": "2024-03-01", "currency": "USD", "base": "EUR", "rate": "1.0825"}]}
    # Importing a day again replaces it as a whole: GBP is gone from the 1st, the 2nd stays.
    again = await http.put("/api/v1/fx/rates", params={"base": "USD"},
                           content="date,currency,rate\n2024-03-01,EUR,0.9238\n",
                           headers={**CSV, **bearer(ops_owner)})
    assert again.status_code == 200, again.text
    assert _stored(chdb_database) == [("2024-03-01", "EUR", "USD", "0.9238"),
                                      ("2024-03-02", "USD", "EUR", "1.09")]


async def test_bad_rates_are_422_with_every_line_and_change_nothing(db, api, chdb_database):
    _, http = api
    owner = await make_key(db, "ops", "owner")
    before = _stored(chdb_database)
    bad = await http.put("/api/v1/fx/rates", content=(
        "date,currency,rate\n2024-04-01,USD,1.1\n2024-04-31,USD,1.1\n2024-04-02,USD,-1\n"
        "2024-04-02,XXX,1\n"), headers={**CSV, **bearer(owner)})
    assert bad.status_code == 422
    assert bad.headers["content-type"] == "application/problem+json"
    assert [e["path"] for e in bad.json()["errors"]] == ["line 3.date", "line 4.rate",
                                                         "line 5.currency"]
    assert _stored(chdb_database) == before
    wrong_type = await http.put("/api/v1/fx/rates", content=b"{}", headers={
        "Content-Type": "application/json", **bearer(owner)})
    assert wrong_type.status_code == 415
    unknown = await http.put("/api/v1/fx/rates", params={"bsae": "USD"}, content=GOOD,
                             headers={**CSV, **bearer(owner)})
    assert unknown.status_code == 400
    base = await http.put("/api/v1/fx/rates", params={"base": "EURO"}, content=GOOD,
                          headers={**CSV, **bearer(owner)})
    assert [e["path"] for e in base.json()["errors"]] == ["base"]
    day = await http.get("/api/v1/fx/rates", params={"from": "yesterday"},
                         headers=bearer(owner))
    assert day.status_code == 400 and day.json()["errors"][0]["path"] == "from"


def _run(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


def test_turnout_fx_import_direct(clickhouse_dsn: str, tmp_path: Path,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TURNOUT_API_URL", raising=False)
    with clickhouse_database(clickhouse_dsn, "fx_cli") as (dsn, database):
        door = ["--dsn", dsn, "--database", database]
        bad = tmp_path / "bad.csv"
        bad.write_text("date,currency,rate\n2024-03-01,USD,1.08\n2024-03-01,USD,abc\n"
                       "2024-13-01,GBP,0.85\n")
        code, out, err = _run(["fx", "import", str(bad), *door])
        assert code == EXIT_BAD_INPUT and out == ""
        assert "2 problem(s), nothing imported" in err
        assert "line 3.rate: must be a positive decimal" in err and "line 4.date" in err
        good = tmp_path / "rates.csv"
        good.write_text(GOOD)
        code, out, _ = _run(["fx", "import", str(good), "--base", "eur", *door])
        assert code == EXIT_OK
        assert out == "imported 3 rate(s) against EUR for 2 day(s), 2024-03-01 .. 2024-03-02\n"
        code, out, _ = _run(["fx", "list", "--currency", "USD", *door])
        assert out == ("date,currency,base,rate\n2024-03-01,USD,EUR,1.0825\n"
                       "2024-03-02,USD,EUR,1.09\n")
