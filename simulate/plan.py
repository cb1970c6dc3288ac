"""The traffic to send, decided up front from a seed: visitors and their requests.

A plan is a pure function of (graph, seed, number of clicks, time): the same arguments
give the same visitors, requests and parameters. What the edge answers (click ids,
visitor cookies) is only known when the plan runs.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Final

from turnout import clickid
from turnout.config.compiled import CompiledCampaign, CompiledGraph
from turnout.simulate import profiles
from turnout.simulate.money import click_cost

UNKNOWN_CODE: Final = "NO_SUCH_CAMPAIGN_CODE"
_KNOWN_EPOCH_MS: Final = 1_700_000_000_000  # fixed, so ids depend on the seed alone


@dataclass(frozen=True, slots=True)
class Mix:
    """Shares of the traffic; the rest of the visitors are people with one click."""

    bots: float = 0.08  # crawler, link-preview and empty user agents
    prefetch: float = 0.04  # people's browsers prefetching the link
    repeat: float = 0.25  # people who come back (their `tv` cookie with them)
    head: float = 0.03  # extra HEAD request before a click (never counted)
    unknown_code: float = 0.005  # a mistyped tracking code (never counted)
    lp_click: float = 0.35  # people who go on from a lander to the offer
    hop: float = 1.0  # people whose browser follows a double-meta page to the destination
    # People who arrive with the `tv` cookie of an earlier visit (an id made from the seed):
    # the edge's sticky split then routes them the same way on every run with this seed.
    known: float = 0.5
    bad_cost: float = 0.03  # a cost token that is not an amount (counted at 0)
    no_cost: float = 0.05  # a cost token missing (counted at 0)


@dataclass(frozen=True, slots=True)
class Step:
    method: str  # GET | HEAD
    campaign_id: str  # "" for an unknown code
    code: str
    params: tuple[tuple[str, str], ...]
    cost_micros: int  # what the click costs if the edge counts it
    lp_clicks: int = 0  # lander -> offer clicks to make after it (when on a lander)
    follow_hop: bool = False  # follow double-meta pages: the click id, the LP click's offer


@dataclass(frozen=True, slots=True)
class VisitorPlan:
    index: int
    ip: str
    country: str
    user_agent: str
    device: str
    bot: str  # "" for a person; else the kind of bot the edge should see
    language: str
    keeps_cookies: bool
    visitor_id: str  # the `tv` cookie it arrives with; "" for a first visit
    headers: tuple[tuple[str, str], ...]  # extra headers on every request (prefetch)
    steps: tuple[Step, ...]

    @property
    def clicks(self) -> int:
        return sum(1 for s in self.steps if s.method == "GET")


def live_campaigns(graph: CompiledGraph, now_ms: int) -> list[CompiledCampaign]:
    return sorted((c for c in graph.campaigns_by_id.values() if c.is_live(now_ms)),
                  key=lambda c: c.id)


def query_conditions(graph: CompiledGraph) -> dict[str, tuple[tuple[str, tuple[str, ...]], ...]]:
    """campaign id -> (query parameter, its values) of the campaign's query conditions."""
    found: dict[str, tuple[tuple[str, tuple[str, ...]], ...]] = {}
    for campaign in graph.graph.campaigns:
        found[campaign.id] = tuple(
            (condition.param, tuple(str(v) for v in condition.values))
            for rule in campaign.rules for condition in rule.conditions
            if condition.kind == "query" and condition.param and condition.values
        )
    return found


def _params(rng: random.Random, campaign: CompiledCampaign, mix: Mix,
            queries: tuple[tuple[str, tuple[str, ...]], ...]) -> tuple[tuple[str, str], ...]:
    tokens = campaign.traffic_source.tokens  # our token -> the source's parameter name
    params: list[tuple[str, str]] = []
    for token, name in sorted(tokens.items()):
        if token.startswith("sub"):
            params.append((name, f"{token}-{rng.randrange(6)}"))
        elif token == "external_id":
            params.append((name, f"ext{rng.getrandbits(40):010x}"))
        elif token == "cost":
            roll = rng.random()
            if roll < mix.no_cost:
                continue
            if roll < mix.no_cost + mix.bad_cost:
                params.append((name, rng.choice(("n/a", "-0.01", "1e-3", ".5"))))
            else:
                # Up to 7 decimals: a seventh that is not 0 is refused (the click costs 0).
                places = rng.randint(2, 7)
                value = rng.randrange(1, 5 * 10**places)
                params.append((name, f"{value // 10**places}.{value % 10**places:0{places}d}"))
    # A query condition in the graph: send its value to a share of the visitors.
    for param, values in queries:
        if rng.random() < 0.3:
            params.append((param, rng.choice(values)))
    return tuple(params)


def _step(rng: random.Random, campaign: CompiledCampaign, mix: Mix,
          queries: dict[str, tuple[tuple[str, tuple[str, ...]], ...]], method: str = "GET",
          person: bool = True) -> Step:
    params = _params(rng, campaign, mix, queries.get(campaign.id, ()))
    cost_param = campaign.traffic_source.tokens.get("cost")
    token = dict(params).get(cost_param) if cost_param else None
    lp = 0
    if person and method == "GET" and rng.random() < mix.lp_click:
        lp = rng.choice((1, 1, 2))
    return Step(method, campaign.id, campaign.code, params,
                click_cost(campaign.cost_model, token), lp, person and rng.random() < mix.hop)


def build_plan(graph: CompiledGraph, clicks: int, seed: int, now_ms: int, mix: Mix = Mix()
               ) -> list[VisitorPlan]:
    """Visitors whose GET /c/ requests add up to `clicks`."""
    rng = random.Random(seed)
    campaigns = live_campaigns(graph, now_ms)
    if not campaigns:
        raise ValueError("the graph has no live campaign to send traffic to")
    countries = sorted(profiles.COUNTRY_IPS)
    queries = query_conditions(graph)
    visitors: list[VisitorPlan] = []
    total = 0
    while total < clicks:
        country = rng.choice(countries)
        roll = rng.random()
        headers: tuple[tuple[str, str], ...] = ()
        if roll < mix.bots:
            ua, bot = rng.choice(profiles.BOT_AGENTS)
            device, repeat = profiles.BOT_DEVICE, 1
        else:
            ua, device = rng.choice(profiles.HUMAN_AGENTS)
            bot = ""
            if roll < mix.bots + mix.prefetch:
                bot, headers = "prefetch", (rng.choice(profiles.PREFETCH_HEADERS),)
            repeat = rng.randint(2, 4) if rng.random() < mix.repeat else 1
        person = not bot
        known = ""
        if person and rng.random() < mix.known:
            known = clickid.encode(_KNOWN_EPOCH_MS + len(visitors), rng.getrandbits(80))
        repeat = min(repeat, clicks - total)
        home = rng.choice(campaigns)
        steps: list[Step] = []
        for _ in range(repeat):
            # Mostly the same campaign again; now and then another one.
            campaign = home if rng.random() < 0.8 else rng.choice(campaigns)
            if rng.random() < mix.head:
                steps.append(_step(rng, campaign, mix, queries, "HEAD", person))
            if rng.random() < mix.unknown_code:
                steps.append(Step("GET", "", UNKNOWN_CODE, (), 0))
            steps.append(_step(rng, campaign, mix, queries, "GET", person))
        plan = VisitorPlan(
            index=len(visitors), ip=profiles.COUNTRY_IPS[country], country=country,
            user_agent=ua, device=device, bot=bot, language=rng.choice(profiles.LANGUAGES),
            keeps_cookies=person, visitor_id=known, headers=headers, steps=tuple(steps),
        )
        visitors.append(plan)
        total += sum(1 for s in steps if s.method == "GET" and s.campaign_id)
    return visitors
