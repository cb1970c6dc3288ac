"""schemathesis against the API's OpenAPI document (tests/integration/schema_support.py):
0 server errors and 0 answers the document does not describe, for the report routes on
seeded chdb and the admin routes on a PostgreSQL database of their own."""

from __future__ import annotations

from collections.abc import Iterator

import clickhouse_connect
import pytest

from tests.integration.admin_support import (
    bearer,
    clickhouse_database,
    facts_for,
    make_key,
    make_workspaces,
)
from tests.integration.control_support import control_database
from tests.integration.schema_support import ServedApi, schema_findings, served_api
from tests.integration.test_reports import _fx_seed, seed
from turnout.api import report_routes

pytestmark = pytest.mark.slow
WORKSPACE = "ws1"


@pytest.fixture(scope="module")
def database(postgres_url: str) -> str:
    return control_database(postgres_url)


@pytest.fixture(scope="module")
def api(database: str, redis_url: str, clickhouse_dsn: str) -> Iterator[ServedApi]:
    with clickhouse_database(clickhouse_dsn, "schema") as clickhouse:
        client = clickhouse_connect.get_client(dsn=clickhouse[0], database=clickhouse[1])
        seed(client)
        _fx_seed(client)
        with served_api(database, redis_url, clickhouse, facts_for(WORKSPACE)) as served:
            yield served


@pytest.fixture(scope="module")
async def owner(database: str) -> dict[str, str]:
    await make_workspaces(database, WORKSPACE)
    return bearer(await make_key(database, WORKSPACE, "owner", rate_per_minute=1_000_000))


def test_report_routes_conform_to_the_document(api: ServedApi, owner: dict[str, str]) -> None:
    findings = schema_findings(api, owner, lambda method, path: path in report_routes.PATHS)
    assert not findings, "\n\n".join(f"{op}: {text}" for op, text in findings.items())


def test_admin_routes_conform_to_the_document(api: ServedApi, owner: dict[str, str]) -> None:
    findings = schema_findings(api, owner, lambda method, path: path not in report_routes.PATHS)
    assert not findings, "\n\n".join(f"{op}: {text}" for op, text in findings.items())
