"""Real services for the integration suite, started once per session on free ports: under
`make test` once per test worker (pytest-xdist), so workers never share a service.

A service that cannot start fails the run (ServiceError), it never skips.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from turnout.local.services import LocalStack, local_stack
from turnout.topics import ensure_topics


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    data_dir: Path = tmp_path_factory.mktemp("turnout-stack")
    with local_stack(data_dir) as running:
        asyncio.run(ensure_topics(running.kafka_bootstrap))
        yield running


@pytest.fixture(scope="session")
def redis_url(stack: LocalStack) -> str:
    return stack.redis_url


@pytest.fixture(scope="session")
def kafka_bootstrap(stack: LocalStack) -> str:
    return stack.kafka_bootstrap


@pytest.fixture(scope="session")
def clickhouse_dsn(stack: LocalStack) -> str:
    """chdb allows one data path per process: every test in this session shares it."""
    return stack.clickhouse_dsn


@pytest.fixture(scope="session")
def postgres_url(stack: LocalStack) -> str:
    """The stack's PostgreSQL server (superuser, `postgres` database); tests that change
    tables make a database of their own on it (tests/integration/control_support.py)."""
    return stack.postgres_url
