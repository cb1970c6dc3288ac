"""Sending the plan to a running edge over HTTP, and writing down what it answered.

Visitors run concurrently, each one's requests in order (the `tv` cookie of one answer goes
with the next request). A click counts in the ledger only when the answer shows the edge
counted it: a redirect or meta page to a destination (not the workspace fallback), or for
a bot the campaign's bot-policy answer. Anything else unexpected (a 5xx, an error, a
refused postback that should have been accepted) is an anomaly.
"""

from __future__ import annotations

import asyncio
import html
import re
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import Any, Final
from urllib.parse import parse_qsl, urlsplit

import httpx

from turnout import clickid
from turnout.config.compiled import CompiledCampaign, CompiledGraph
from turnout.simulate.plan import Step, VisitorPlan
from turnout.simulate.postbacks import Postback
from turnout.simulate.truth import ClickRecord, Ledger, LpRecord

REDIRECTS: Final = frozenset({301, 302, 307})
_META_URL: Final = re.compile(r'http-equiv="refresh" content="0;url=([^"]*)"')
CHAIN_GAP_S: Final = 0.003  # the edge stamps postbacks in ms; keep a chain's steps apart


@dataclass
class Outcome:
    ledger: Ledger = field(default_factory=Ledger)
    requests: Counter[str] = field(default_factory=Counter)
    statuses: Counter[str] = field(default_factory=Counter)
    anomalies: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)


class Pacer:
    """Spaces requests to at most `rate` per second overall (0: as fast as possible)."""

    def __init__(self, rate: float) -> None:
        self._interval = 1.0 / rate if rate > 0 else 0.0
        self._next = 0.0

    async def wait(self) -> None:
        if not self._interval:
            return
        now = time.monotonic()
        at = max(self._next, now)
        self._next = at + self._interval
        if at > now:
            await asyncio.sleep(at - now)


def click_id_in(url: str) -> str:
    """The click id a destination URL carries (the query value that is one), or ""."""
    for _name, value in parse_qsl(urlsplit(url).query):
        if len(value) == clickid.LENGTH:
            try:
                return clickid.normalize(value)
            except clickid.ClickIdError:
                continue
    return ""


def meta_target(body: str) -> str:
    match = _META_URL.search(body)
    return html.unescape(match.group(1)) if match else ""


def target_of(response: httpx.Response) -> str:
    """Where an answer sends the browser: its redirect, or its meta refresh page's URL."""
    if response.status_code == 200:
        return meta_target(response.text)
    return response.headers.get("location", "") if response.status_code in REDIRECTS else ""


def new_client(base_url: str, timeout: float = 30.0,
               transport: httpx.AsyncBaseTransport | None = None) -> httpx.AsyncClient:
    """One keep-alive connection that never keeps cookies itself (each visitor carries its
    own). A worker per connection, like wrk: httpcore's pool walks every connection of the
    pool on each request, which costs more than the request once there are dozens."""
    jar = CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    return httpx.AsyncClient(base_url=base_url, cookies=jar, limits=limits, timeout=timeout,
                             follow_redirects=False, transport=transport)


Client = httpx.AsyncClient


class Simulator:
    def __init__(self, clients: list[Client], graph: CompiledGraph, rate: float = 0.0) -> None:
        if not clients:
            raise ValueError("at least one client")
        self.clients = clients
        self.graph = graph
        self.pacer = Pacer(rate)
        self.outcome = Outcome()
        # Each offer's URL up to its first macro, longest first: which offer a redirect
        # reached, and so which network may convert the click and what currency it pays in.
        self._offer_heads = sorted(
            ((o.url.text.split("{", 1)[0], o.network_id, o.currency)
             for o in graph.offers_by_id.values()),
            key=lambda entry: -len(entry[0]))

    def offer_of(self, target: str) -> tuple[str, str]:
        """(network, currency) of the offer `target` leads to; ("", "") for none."""
        return next(((network, currency) for head, network, currency in self._offer_heads
                     if target.startswith(head)), ("", ""))

    def _anomaly(self, text: str) -> None:
        self.outcome.anomalies.append(text)

    async def _get(self, client: Client, kind: str, method: str, path: str,
                   headers: dict[str, str], params: Iterable[tuple[str, str]] = ()
                   ) -> httpx.Response | None:
        await self.pacer.wait()
        self.outcome.requests[kind] += 1
        try:
            query = list(params)
            # An empty params list would drop a query already in `path` (the hop URL).
            response = await client.request(method, path, params=query or None,
                                                 headers=headers)
        except httpx.HTTPError as exc:
            self._anomaly(f"{kind} {method} {path}: {type(exc).__name__}: {exc}")
            return None
        self.outcome.statuses[f"{kind} {response.status_code}"] += 1
        if response.status_code >= 500:
            self._anomaly(f"{kind} {method} {path}: HTTP {response.status_code}")
        return response

    async def _all(self, jobs: list[Any], work: Callable[[Client, Any], Awaitable[None]]
                   ) -> None:
        queue = iter(jobs)

        async def worker(client: Client) -> None:
            for job in queue:
                await work(client, job)

        await asyncio.gather(*(worker(client) for client in self.clients))

    # -- clicks --------------------------------------------------------------------

    async def clicks(self, plan: list[VisitorPlan]) -> None:
        started = time.monotonic()
        await self._all(list(plan), self.visitor)
        self.outcome.seconds["clicks"] = time.monotonic() - started

    async def visitor(self, client: Client, visitor: VisitorPlan) -> None:
        jar: dict[str, str] = {"tv": visitor.visitor_id} if visitor.visitor_id else {}
        base = {"x-forwarded-for": visitor.ip, "user-agent": visitor.user_agent,
                **dict(visitor.headers)}
        if visitor.language:
            base["accept-language"] = visitor.language
        for position, step in enumerate(visitor.steps):
            headers = dict(base)
            # A workspace's own tracking domain is the only host its codes are served on.
            domain = _domain_of(self.graph, step.campaign_id)
            if domain:
                headers["host"] = domain
            if jar:
                headers["cookie"] = "; ".join(f"{k}={v}" for k, v in jar.items())
            sent_ms = time.time_ns() // 1_000_000
            kind = "head" if step.method == "HEAD" else "click" if step.campaign_id else "unknown"
            response = await self._get(client, kind, step.method, f"/c/{step.code}",
                                       headers, step.params)
            if response is None:
                continue
            cookies = _set_cookies(response)
            visitor_id = jar.get("tv") or cookies.get("tv", "")
            if visitor.keeps_cookies:
                jar.update(cookies)
            if kind != "click" or response.status_code >= 500:
                continue
            campaign = self.graph.campaigns_by_id[step.campaign_id]
            record = await self._counted(client, visitor, step, campaign, response, headers,
                                         visitor_id, sent_ms)
            if record is None:
                continue
            record.seq = visitor.index * 1024 + position
            record.session = f"v{visitor.index}" if visitor.keeps_cookies else ""
            self.outcome.ledger.clicks.append(record)
            # Only a click that went to a lander sets a context; an older one in the jar
            # belongs to an earlier click (and /click would continue that one).
            if not record.is_bot and step.lp_clicks and "tc" in cookies:
                lander_base = {**base, "host": domain} if domain else base
                await self._lander_clicks(client, step, record, campaign, lander_base, jar)

    async def _counted(self, client: Client, visitor: VisitorPlan, step: Step,
                       campaign: CompiledCampaign, response: httpx.Response,
                       headers: dict[str, str], visitor_id: str, sent_ms: int
                       ) -> ClickRecord | None:
        record = ClickRecord(campaign.workspace.id, campaign.id, visitor.country,
                             visitor.device, visitor_id, bool(visitor.bot), sent_ms,
                             step.cost_micros)
        status = response.status_code
        policy = campaign.bot_policy.action
        if visitor.bot and policy != "same":
            expected = 404 if policy == "not_found" else 302
            if status != expected:
                self._anomaly(f"bot on {campaign.code}: HTTP {status}, expected {expected}")
                return None
            return record
        target = target_of(response)
        if not target:
            self._anomaly(f"click on {campaign.code}: HTTP {status} without a destination")
            return None
        fallback = campaign.workspace.fallback_url
        if fallback is not None and target == fallback.render({}):
            self.outcome.requests["fallback"] += 1
            return None
        if step.follow_hop:
            target = await self._through_hop(client, target, headers, campaign.code)
        record.click_id = click_id_in(target)
        record.network_id, record.currency = self.offer_of(target)
        if not record.click_id and not target.startswith("/r?"):
            self._anomaly(f"no click id in the destination {target!r}")
        return record

    async def _through_hop(self, client: Client, target: str, headers: dict[str, str],
                           code: str) -> str:
        """Where `target` leads: itself, or behind the edge's hop (double meta refresh:
        the page points at /r, which a browser follows to the destination) what the hop
        names; the destination names the click and the offer reached."""
        if not target.startswith("/r?"):
            return target
        hop = await self._get(client, "hop", "GET", target, headers)
        target = meta_target(hop.text) if hop is not None and hop.status_code == 200 else ""
        if not target:
            self._anomaly(f"hop of {code} led nowhere")
        return target

    async def _lander_clicks(self, client: Client, step: Step, click: ClickRecord,
                             campaign: CompiledCampaign, base: dict[str, str],
                             jar: dict[str, str]) -> None:
        fallback = campaign.workspace.fallback_url
        refused = None if fallback is None else fallback.render({})
        for _ in range(step.lp_clicks):
            headers = {**base, "cookie": "; ".join(f"{k}={v}" for k, v in jar.items())}
            response = await self._get(client, "lp", "GET", "/click", headers,
                                       [("cid", click.click_id)] if click.click_id else [])
            if response is None:
                return
            jar.update(_set_cookies(response))
            target = target_of(response)
            if not target or target == refused:
                return  # no further step on this path: not counted
            # The edge stored the LP click already; the hop only says which offer it was
            # to, which ingest credits and whose network alone may convert the click.
            if step.follow_hop:
                target = await self._through_hop(client, target, headers, campaign.code)
            network, currency = self.offer_of(target)
            if network:
                click.network_id, click.currency = network, currency
            self.outcome.ledger.lp_clicks.append(LpRecord(click.key, click.is_bot))

    # -- postbacks -----------------------------------------------------------------

    async def postbacks(self, chains: list[list[Postback]]) -> None:
        started = time.monotonic()
        await self._all(list(chains), self.chain)
        self.outcome.seconds["postbacks"] = time.monotonic() - started

    async def chain(self, client: Client, chain: list[Postback]) -> None:
        for i, postback in enumerate(chain):
            if i:
                await asyncio.sleep(CHAIN_GAP_S)
            response = await self._get(client, "postback", "GET", "/postback",
                                       {"x-forwarded-for": postback.ip}, postback.params)
            if response is None:
                return
            self.check(postback, response.status_code, response.text)

    def check(self, postback: Postback, status: int, body: str) -> None:
        if postback.accept:
            if status == 200:
                self.outcome.ledger.accepted(postback.click_id, postback.txid, postback.status,
                                             postback.payout_micros, postback.currency,
                                             time.time_ns() // 1_000_000)
            else:
                self._anomaly(f"postback {postback.case} refused: HTTP {status} {body[:120]}")
        elif not 400 <= status < 500 or (postback.status_code and status != postback.status_code):
            expected = postback.status_code or "4xx"
            self._anomaly(f"postback {postback.case}: HTTP {status}, expected {expected}")


def _set_cookies(response: httpx.Response) -> dict[str, str]:
    found = {}
    for header in response.headers.get_list("set-cookie"):
        name, _, rest = header.partition("=")
        found[name.strip()] = rest.split(";", 1)[0].strip()
    return found


def _domain_of(graph: CompiledGraph, campaign_id: str) -> str:
    """The first tracking domain of the campaign's workspace; "" for the default domain."""
    campaign = graph.campaigns_by_id.get(campaign_id)
    if campaign is None or not campaign.workspace.domains:
        return ""
    return campaign.workspace.domains[0]
