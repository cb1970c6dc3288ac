"""Hostile input and postbacks against a real `turnout edge`: 4xx with a reason, never a
5xx, never a redirect off the configured hosts, nothing secret in the log."""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import httpx
import pytest
from aiokafka import AIOKafkaConsumer

from tests.integration.edge_support import (
    ALLOWED_HOSTS,
    IPS,
    MOBILE,
    SECRET,
    EdgeProcess,
    edge_client,
    running_edge,
)
from turnout.clickid import ClickIds
from turnout.events import CONVERSION_DECODER, TOPIC_CONVERSIONS
from turnout.local.services import LocalStack

pytestmark = pytest.mark.slow
DAY = 86_400_000
NETWORK_SECRETS = ("alpha-postback-secret-01", "beta-postback-secret-02",
                   "beta-hmac-signing-key-02")


@pytest.fixture(scope="module")
async def edge(stack: LocalStack, tmp_path_factory: pytest.TempPathFactory
               ) -> AsyncIterator[EdgeProcess]:
    async with running_edge(stack, tmp_path_factory.mktemp("edge-hostile")) as process:
        yield process


@pytest.fixture
async def client(edge: EdgeProcess) -> AsyncIterator[httpx.AsyncClient]:
    async with edge_client(edge) as http:
        yield http


OPEN_REDIRECT_TRIES = [
    "/c/CAMP_A?url=https://evil.example/",
    "/c/CAMP_A?zoneid=//evil.example&sub1=https://evil.example",
    "/c/CAMP_A?zoneid=%0d%0aLocation:%20https://evil.example",
    "/c/CAMP_A?zoneid=%0aSet-Cookie:%20owned=1",
    "/c/CAMP_A?zoneid=javascript:alert(1)",
    "/c/CAMP_A?zoneid=%2F%2Fevil.example%2F&creative=%5C%5Cevil.example",
    "/c/CAMP_A?next=%68%74%74%70%73%3a%2f%2fevil.example",
    "/c/INSTA_SUMMER_01_STORIES?utm_content=story-b&ad=@evil.example",
    "/c/INSTA_SUMMER_01_STORIES?utm_content=story-b&ad=%40evil.example%23",
    "/c//evil.example",
    "/c/%2F%2Fevil.example",
    "/c/CAMP_A/../../evil",
    "/c/CAMP_A?a=%zz",
    "/c/CAMP_A?a=%ff%fe",
    "/c/CAMP_A?" + "a=1&" * 300,
    "/c/CAMP_A?a=" + "x" * 20_000,
    "/click?cid=../../etc/passwd",
    "/click/99999999999999999999",
    "/r?t=https://evil.example/",
    "/r?t=aHR0cHM6Ly9ldmlsLmV4YW1wbGUv.AAAAAAAAAAAAAAAAAAAAAA",
    "/postback?clickid=%00&secret=%ff",
    "/p.gif?cid=%zz",
]


@pytest.mark.parametrize("path", OPEN_REDIRECT_TRIES)
async def test_no_open_redirect_and_no_5xx(client, path):
    response = await client.get(path, headers={"x-forwarded-for": "214.78.0.1",
                                               "user-agent": MOBILE})
    assert response.status_code < 500, (path, response.status_code, response.text)
    location = response.headers.get("location")
    if location is not None:
        assert urlsplit(location).hostname in ALLOWED_HOSTS
    assert "owned" not in response.headers.get("set-cookie", "")


def raw_request(port: int, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(data)
        chunks = []
        try:
            while chunk := sock.recv(65536):
                chunks.append(chunk)
                if b"\r\n\r\n" in b"".join(chunks):
                    break
        except (ConnectionResetError, TimeoutError):
            pass
    return b"".join(chunks)


def test_non_utf8_user_agent_is_just_a_browser_we_do_not_know(edge):
    request = b"GET /c/CAMP_A HTTP/1.1\r\nHost: x\r\nUser-Agent: \xc3\x28\xff\r\n\r\n"
    assert raw_request(edge.port, request).startswith(b"HTTP/1.1 302 ")


@pytest.mark.parametrize("request_bytes", [
    b"GET /c/\xff\xfe HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /c/CAMP_A?a=\xff HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /c/CAMP_A HTTP/1.1\r\nHost: x\r\nCookie: tv=" + b"A" * 60_000 + b"\r\n\r\n",
    b"GET /c/CAMP_A HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: " + b"1.2.3.4," * 4000 + b"\r\n\r\n",
    b"GET /c/" + b"A" * 100_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
    b"BREW /c/CAMP_A HTTP/1.1\r\nHost: x\r\n\r\n",
    b"POST /postback HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999\r\n\r\n",
    b"GARBAGE\r\n\r\n",
])
def test_malformed_http_is_a_4xx(edge, request_bytes):
    answer = raw_request(edge.port, request_bytes)
    if answer:  # closing the connection on garbage is a fine answer too
        status = int(answer.split(b" ", 2)[1])
        assert 400 <= status < 500, answer[:200]


def test_connect_is_refused_and_the_connection_closed(edge):
    # Fuzzer finding: a CONNECT got its 405, then its connection idled for the keep-alive
    # timeout (5 s): the parser reads nothing after one, not even a pipelined request's
    # `Connection: close`.
    request = (b"CONNECT /c/CAMP_A HTTP/1.1\r\nHost: x\r\n\r\n"
               b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    with socket.create_connection(("127.0.0.1", edge.port), timeout=2) as sock:
        sock.sendall(request)
        answer = b""
        while chunk := sock.recv(65536):  # TimeoutError (a failure) if it is never closed
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 405 "), answer[:200]
    assert answer.count(b"HTTP/1.1 ") == 1 and b"connection: close" in answer.lower()


async def test_postbacks(edge, client, kafka_bootstrap):
    ids = ClickIds()
    now = int(time.time() * 1000)
    click = ids.new(now - DAY)
    good = f"/postback?clickid={click}&secret=beta-postback-secret-02&payout=4.20&txid=T1"
    first = await client.get(good)
    duplicate = await client.get(good)
    assert first.status_code == duplicate.status_code == 200
    assert first.json()["status"] == "accepted"
    assert first.json()["conversion_id"] != duplicate.json()["conversion_id"]
    cases = {
        f"/postback?clickid={click}&secret=nope": 403,
        f"/postback?clickid={click}": 401,
        "/postback?clickid=not-a-click&secret=beta-postback-secret-02": 400,
        f"/postback?clickid={ids.new(now - 120 * DAY)}&secret=beta-postback-secret-02": 410,
        f"/postback?clickid={ids.new(now + DAY)}&secret=beta-postback-secret-02": 400,
        f"/postback?clickid={click}&secret=beta-postback-secret-02&payout=abc": 400,
        f"/postback?clickid={click}&secret=beta-postback-secret-02&status=weird": 400,
        f"/postback?clickid={click}&secret=beta-postback-secret-02&x=" + "y" * 6000: 414,
        # alpha-net only accepts postbacks from its allowlisted range
        f"/postback?clickid={click}&secret=alpha-postback-secret-01": 403,
    }
    for path, status in cases.items():
        response = await client.get(path)
        assert response.status_code == status, (path[:80], response.text)
        assert response.json()["reason"]
    big = await client.post("/postback", content=b"a=" + b"b" * 200_000,
                            headers={"content-type": "application/x-www-form-urlencoded"})
    assert big.status_code == 413

    consumer = AIOKafkaConsumer(
        TOPIC_CONVERSIONS, bootstrap_servers=kafka_bootstrap,
        group_id=f"edge-test-{uuid.uuid4().hex}", auto_offset_reset="earliest",
    )
    await consumer.start()
    got = []
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and len(got) < 2:
            for records in (await consumer.getmany(timeout_ms=300)).values():
                got += [c for r in records
                        if (c := CONVERSION_DECODER.decode(r.value)).click_id == click]
    finally:
        await consumer.stop()
    assert len(got) == 2  # both accepted; ingest counts (clickid, txid, status) once
    assert {c.payout_micros for c in got} == {4_200_000}
    assert {c.network_id for c in got} == {"beta-net"}


def test_log_holds_no_secret_and_no_address(edge: EdgeProcess):
    # Runs after the tests above sent secrets and test addresses in every form.
    log = edge.log()
    assert log
    for needle in (SECRET, *NETWORK_SECRETS, *IPS):
        assert needle not in log, needle
