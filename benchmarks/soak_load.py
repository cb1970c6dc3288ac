"""The soak's paced client: clicks on /c/{code} at a fixed rate (open loop: each click is
sent at its time whether or not the earlier ones were answered, so a stall shows as
latency, not as a slower rate), each redirect's click id into a ledger, and a postback
for a share of them.

A click is accepted when the edge answers 302 with a click id; refused when it was never
accepted (connection refused, 503); an error otherwise (a timeout: the edge may or may
not have counted it). Only accepted clicks are in the ledger. A postback is retried while
refused, as a network retries one; accepted postbacks are the conversion ledger.
"""

from __future__ import annotations

import asyncio
import random
import re
import threading
import time
import urllib.parse
from dataclasses import dataclass, field

from benchmarks import soak_http
from benchmarks.soak_stack import Target

BROWSER = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36"
CLICK_ID = re.compile(r"[?&]cid=([^&]+)")
TIMEOUT_S = 10.0
POSTBACK_DELAY_S = 0.5
POSTBACK_RETRIES = 30
POSTBACK_RETRY_S = 1.0
REFUSED_STATUSES = (502, 503, 504)


@dataclass(frozen=True, slots=True)
class Request:
    at_s: float  # when it was sent, from the start of the load
    latency_ms: float
    outcome: str  # accepted | refused | error


@dataclass
class Ledger:
    clicks: set[str] = field(default_factory=set)
    conversions: set[tuple[str, str]] = field(default_factory=set)
    requests: list[Request] = field(default_factory=list)  # clicks only
    postback_refusals: int = 0
    postback_errors: int = 0
    postbacks_given_up: int = 0


def _address(rng: random.Random) -> str:
    """A public address outside the example graph's US/RU rules (the default path)."""
    return f"81.2.{rng.randrange(0, 256)}.{rng.randrange(1, 255)}"


class Load:
    def __init__(self, target: Target, rate: float, postback_share: float,
                 seed: int = 15) -> None:
        self.target, self.rate, self.share = target, rate, postback_share
        self.rng = random.Random(seed)
        self.ledger = Ledger()
        self.started = 0.0

    def run(self, duration_s: float, stop: threading.Event) -> Ledger:
        asyncio.run(self._run(duration_s, stop))
        return self.ledger

    async def _run(self, duration_s: float, stop: threading.Event) -> None:
        # A connection per request, as each visitor is a client of its own
        # (benchmarks/soak_http.py: closed in every case, one deadline per exchange).
        tasks: set[asyncio.Task[None]] = set()
        self.started = time.monotonic()
        total = int(duration_s * self.rate)
        for i in range(total):
            if stop.is_set():
                break
            delay = self.started + i / self.rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            task = asyncio.create_task(self._click(self.rng.random() < self.share))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        if tasks:
            await asyncio.gather(*tasks)

    async def _click(self, convert: bool) -> None:
        sent = time.monotonic()
        headers = {"User-Agent": BROWSER, "X-Forwarded-For": _address(self.rng),
                   "Accept-Language": "en-GB,en;q=0.8"}
        outcome, click_id = "error", None
        try:
            answer = await soak_http.get(f"{self.target.edge}/c/{self.target.code}",
                                         headers, TIMEOUT_S)
        except soak_http.Refused:
            outcome = "refused"
        except soak_http.Failed:
            outcome = "error"
        else:
            match = CLICK_ID.search(answer.headers.get("location", ""))
            if answer.status == 302 and match is not None:
                outcome, click_id = "accepted", match.group(1)
            elif answer.status in REFUSED_STATUSES:
                outcome = "refused"
        latency_ms = (time.monotonic() - sent) * 1000
        self.ledger.requests.append(Request(sent - self.started, latency_ms, outcome))
        if click_id is None:
            return
        self.ledger.clicks.add(click_id)
        if convert:
            await asyncio.sleep(POSTBACK_DELAY_S)
            await self._postback(click_id)

    async def _postback(self, click_id: str) -> None:
        txid = f"soak-{click_id}"
        query = urllib.parse.urlencode({
            "clickid": click_id, "payout": self.target.payout, "txid": txid,
            "currency": self.target.currency, "secret": self.target.secret})
        headers = {"X-Forwarded-For": self.target.postback_from} \
            if self.target.postback_from else {}
        for _ in range(POSTBACK_RETRIES):
            try:
                answer = await soak_http.get(f"{self.target.edge}/postback?{query}",
                                             headers, TIMEOUT_S)
            except soak_http.Refused:
                self.ledger.postback_refusals += 1
            except soak_http.Failed:
                # Perhaps accepted: sending it again is what a network does, and (click
                # id, txid) is the conversion's identity, so a repeat must not count twice.
                self.ledger.postback_errors += 1
            else:
                if answer.status == 200:
                    self.ledger.conversions.add((click_id, txid))
                    return
                if answer.status not in REFUSED_STATUSES:
                    self.ledger.postback_errors += 1
                    return
                self.ledger.postback_refusals += 1
            await asyncio.sleep(POSTBACK_RETRY_S)
        self.ledger.postbacks_given_up += 1
