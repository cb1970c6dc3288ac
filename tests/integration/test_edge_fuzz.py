"""A raw-HTTP fuzzer against a real `turnout edge` (tests/integration/fuzz_support.py):
every endpoint, any method, hostile targets, headers, cookies and bodies, pipelined,
HTTP/1.0 and 1.1. The bar: no 5xx, every answer well framed, no hang, the edge keeps
serving and logs no traceback."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator

import httpx
import pytest
from hypothesis import given

from tests.integration.edge_support import EdgeProcess, running_edge
from tests.integration.fuzz_support import (
    EXAMPLES,
    FUZZ_SETTINGS,
    Request,
    exchanges,
    responses,
    send,
    wire,
)
from turnout.local.services import LocalStack

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
async def edge(stack: LocalStack, tmp_path_factory: pytest.TempPathFactory
               ) -> AsyncIterator[EdgeProcess]:
    async with running_edge(stack, tmp_path_factory.mktemp("edge-fuzz")) as process:
        yield process


def test_fuzzed_exchanges_get_no_5xx_and_well_framed_answers(edge: EdgeProcess) -> None:
    statuses: Counter[int] = Counter()

    @FUZZ_SETTINGS
    @given(exchange=exchanges)
    def exchange_is_answered(exchange: list[Request]) -> None:
        data = wire(exchange)
        answered = responses(send(edge.port, data), [r.method for r in exchange])
        assert len(answered) <= len(exchange), data[:300]
        for response in answered:
            statuses[response.status] += 1
            assert response.status < 500, (response.status, response.body[:300], data[:300])

    exchange_is_answered()
    # The fuzzer reached the handlers, not only the parser's refusals.
    assert sum(statuses.values()) >= EXAMPLES // 2, statuses
    assert {200, 302, 400, 404, 405} <= set(statuses), statuses
    assert edge.process is not None and edge.process.poll() is None
    assert httpx.get(f"{edge.base_url}/healthz", timeout=5).status_code == 200
    log = edge.log()
    assert "Traceback" not in log, log[log.find("Traceback") - 500:][:4000]
    assert "ERROR" not in log, [line for line in log.splitlines() if "ERROR" in line][:5]
