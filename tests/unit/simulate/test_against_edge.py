"""The simulator against the edge app in process: its ground truth, inferred from the
answers alone, must equal what the edge actually emitted."""

from __future__ import annotations

import datetime as dt
import time
from collections import Counter, defaultdict
from collections.abc import AsyncIterator
from typing import Final

import httpx
import pytest

from tests.inprocess_edge import ListSink, in_process_edge
from tests.two_domains import two_domain_graph
from turnout.config import examples
from turnout.config.compile import compile_graph
from turnout.config.compiled import CompiledGraph
from turnout.config.fx_rates import parse_csv
from turnout.events import TOPIC_CLICKS, TOPIC_CONVERSIONS, Click
from turnout.ingest import attribution, lander_offers
from turnout.ingest.attribution import ClickRef
from turnout.local.dev_setup import around_today
from turnout.simulate.driver import simulate
from turnout.simulate.plan import Mix
from turnout.simulate.runner import Pacer, click_id_in, meta_target
from turnout.simulate.truth import Rates


@pytest.fixture
async def edge(graph: CompiledGraph) -> AsyncIterator[tuple[httpx.ASGITransport, ListSink]]:
    async with in_process_edge(graph, b"simulate-unit-secret") as (app, sink):
        yield httpx.ASGITransport(app=app, client=("127.0.0.1", 40000)), sink


# The example rates as `turnout dev` imports them (the example offers pay in USD).
RATES: Final = parse_csv(around_today(examples.FX_RATES.read_text(),
                                      dt.datetime.now(dt.UTC).date()))


def from_events(sink: ListSink) -> dict[tuple[str, ...], Counter[str]]:
    """The report numbers computed from the emitted events themselves, each conversion's
    currency as ingest gives it (attribution.currency), converted at RATES."""
    rows: dict[tuple[str, ...], Counter[str]] = defaultdict(Counter)
    clicks = {}
    stored, to_offers = as_stored(sink)
    exchange = Rates(RATES)
    seen: set[tuple[str, str, bool]] = set()
    for click in sorted(sink.of(TOPIC_CLICKS), key=lambda c: c.ts_ms):
        key = (click.workspace_id, click.campaign_id, click.country, click.device)
        row = rows[key]
        if click.kind == "lp_click":
            row["lp_clicks"] += not click.is_bot
            continue
        clicks[click.click_id] = click
        if click.is_bot:
            row["bot_clicks"] += 1
            continue
        row["clicks"] += 1
        row["cost_micros"] += click.cost_micros
        visit = (click.campaign_id, click.visitor_id, click.is_bot)
        row["unique_clicks"] += visit not in seen  # the run is far shorter than any window
        seen.add(visit)
    latest = {}
    for conversion in sink.of(TOPIC_CONVERSIONS):
        latest[(conversion.click_id, conversion.txid)] = conversion
    for (click_id, _), conversion in latest.items():
        click = clicks.get(click_id)
        if click is None or click.is_bot or conversion.status != "approved":
            continue
        row = rows[(click.workspace_id, click.campaign_id, click.country, click.device)]
        row["conversions"] += 1
        ref = as_ingest_sees(stored[click_id], to_offers, conversion.ts_ms)
        currency, _source = attribution.currency(conversion, ref)
        payout = conversion.payout_micros if conversion.payout_given else ref.offer_payout_micros
        converted = exchange.convert(payout, currency, "EUR", conversion.ts_ms)
        assert converted is not None  # the example rates cover every currency of the graph
        row["revenue_micros"] += converted
    return rows


def as_stored(sink: ListSink) -> tuple[dict[str, ClickRef], dict[str, list[ClickRef]]]:
    """The emitted campaign clicks as ingest's look-ups return them, and per campaign
    click its LP clicks to an offer, newest first (as ingest reads them)."""
    emitted = sink.of(TOPIC_CLICKS)
    clicks = {c.click_id: _as_stored(c) for c in emitted if c.kind == "click"}
    to_offers: dict[str, list[ClickRef]] = defaultdict(list)
    for lp in reversed(emitted):
        if lp.kind == "lp_click" and lp.offer_id:
            to_offers[lp.parent_click_id].append(_as_stored(lp))
    return clicks, to_offers


def as_ingest_sees(click: ClickRef, to_offers: dict[str, list[ClickRef]],
                   at_ms: int) -> ClickRef:
    if not lander_offers.went_to_lander(click):
        return click
    return lander_offers.through(click, to_offers[click.click_id], at_ms)


async def test_truth_equals_what_the_edge_emitted(graph, edge):
    transport, sink = edge
    result = await simulate("http://edge.test", graph, clicks=800, postbacks=160, seed=11,
                            concurrency=4, transport=transport, rates=RATES)
    assert result.outcome.anomalies == []
    truth = {row.key: Counter({
        "clicks": row.clicks, "unique_clicks": row.unique_clicks, "bot_clicks": row.bot_clicks,
        "lp_clicks": row.lp_clicks, "conversions": row.conversions,
        "revenue_micros": row.revenue_micros, "cost_micros": row.cost_micros,
    }) for row in result.rows}
    emitted = from_events(sink)
    assert {k: +v for k, v in emitted.items()} == {k: +v for k, v in truth.items()}
    # Everything it meant to exercise happened.
    requests = result.outcome.requests
    assert requests["click"] == 800 and requests["head"] and requests["unknown"]
    assert requests["hop"] and requests["lp"] and requests["postback"] >= 160
    statuses = result.outcome.statuses
    assert statuses["postback 403"] and statuses["postback 400"] and statuses["postback 410"]
    assert sum(1 for (topic, _, _) in sink.events if topic == TOPIC_CONVERSIONS) == sum(
        len(history) for history in result.ledger.conversions.values())
    assert any(row.conversions for row in result.rows)
    assert any(row.unique_clicks < row.clicks for row in result.rows)
    # Payouts in USD (named, and left to the offer) and in EUR were all exercised.
    named = Counter(c.currency for c in sink.of(TOPIC_CONVERSIONS) if c.currency_given)
    unnamed = sum(not c.currency_given for c in sink.of(TOPIC_CONVERSIONS))
    assert named["USD"] and named["EUR"] and unnamed
    assert not any(row.held_conversions for row in result.rows)


async def test_same_seed_same_ground_truth(graph, edge):
    """With every person bringing a cookie made from the seed, the edge's sticky split
    routes the same way, so even LP clicks and conversions repeat."""
    transport, _ = edge
    runs = [await simulate("http://edge.test", graph, clicks=300, postbacks=60, seed=5,
                           concurrency=3, transport=transport, mix=Mix(known=1.0))
            for _ in range(2)]
    first, second = ([row.as_dict() for row in run.rows] for run in runs)
    assert first == second


def _as_stored(click: Click) -> ClickRef:
    """An emitted click as ingest's look-ups return it (the dimensions attribution reads)."""
    dimensions = {name: getattr(click, name, "") for name in attribution.DIMENSION_NAMES}
    return ClickRef(click.click_id, click.ts_ms, click.kind, click.visitor_id,
                    click.attribution_window_ms, dimensions, click.offer_payout_micros,
                    click.offer_currency)


async def test_the_ledger_knows_the_network_ingest_lets_convert_each_click(graph, edge):
    """Ingest credits a lander click's conversion to the offer of its latest LP click and
    refuses one of another network (foreign_network, to the DLQ). So the ledger must know
    that network, also when the LP click's answer is a double-meta page (campaign
    `summer`), and every conversion it counts must be one ingest keeps. It once kept ""
    there (the hop not followed), sent a postback of a random network, and counted it."""
    transport, sink = edge
    result = await simulate("http://edge.test", graph, clicks=400, postbacks=400, seed=7,
                            concurrency=4, transport=transport, mix=Mix(lp_click=1.0, hop=0.5))
    assert result.outcome.anomalies == []
    clicks, to_offers = as_stored(sink)
    known = [c for c in result.ledger.clicks if c.click_id]
    assert {c.click_id: c.network_id for c in known} == {
        c.click_id: as_ingest_sees(clicks[c.click_id], to_offers, 2**62).dimensions["network_id"]
        for c in known}
    # The currency too, where an offer was reached ("" otherwise: the postback names the
    # workspace's then, since unnamed it would be the first CTA offer's).
    assert {c.click_id: c.currency for c in known if c.network_id} == {
        c.click_id: as_ingest_sees(clicks[c.click_id], to_offers, 2**62).offer_currency
        for c in known if c.network_id}
    # The case that went wrong is exercised: LP clicks through a hop to another network's
    # offer than the campaign click names (none).
    through_hop = [c for c in known if c.campaign_id == "summer" and c.network_id
                   and clicks[c.click_id].dimensions["destination_kind"] != "offer"]
    assert through_hop
    counted = [conversion for conversion in sink.of(TOPIC_CONVERSIONS)
               if (conversion.click_id, conversion.txid) in result.ledger.conversions]
    assert len(counted) == sum(len(h) for h in result.ledger.conversions.values())
    refused = [(conversion.click_id, attribution.refusal(conversion, as_ingest_sees(
        clicks[conversion.click_id], to_offers, conversion.ts_ms))) for conversion in counted
        if conversion.click_id in clicks]
    assert [r for r in refused if r[1] is not None] == []
    assert any(clicks[click_id].dimensions["network_id"] == "" for click_id, _ in refused)


def test_click_ids_and_meta_pages():
    cid = "01HZX3K9QW4N7V2B8C5D6E7F8G"
    assert click_id_in(f"https://lp.example.com/us?cid={cid}&c=US") == cid
    assert click_id_in("https://lp.example.com/us?c=US&x=" + "U" * 26) == ""  # not base32
    page = ('<meta http-equiv="refresh" content="0;url=/r?t=ab.cd&amp;x=1">')
    assert meta_target(page) == "/r?t=ab.cd&x=1"


async def test_pacer_spaces_requests():
    pacer = Pacer(200.0)
    started = time.monotonic()
    for _ in range(21):
        await pacer.wait()
    assert time.monotonic() - started >= 0.099
    free = Pacer(0)
    started = time.monotonic()
    for _ in range(1000):
        await free.wait()
    assert time.monotonic() - started < 0.05


async def test_truth_equals_what_the_edge_emitted_on_tracking_domains():
    # Three workspaces share the code SUMMER: the simulator must send each campaign's clicks
    # to its workspace's domain, or they would land in another workspace.
    graph = compile_graph(two_domain_graph(), 1)
    async with in_process_edge(graph, b"simulate-unit-secret") as (app, sink):
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 40000))
        result = await simulate("http://edge.test", graph, clicks=300, postbacks=60, seed=5,
                                concurrency=4, transport=transport)
    assert result.outcome.anomalies == []
    truth = {row.key: Counter({"clicks": row.clicks, "conversions": row.conversions,
                               "revenue_micros": row.revenue_micros}) for row in result.rows}
    emitted = {key: Counter({name: counts[name] for name in
                             ("clicks", "conversions", "revenue_micros")})
               for key, counts in from_events(sink).items()}
    assert {k: +v for k, v in emitted.items()} == {k: +v for k, v in truth.items()}
    assert {key[0] for key, counts in truth.items() if counts["clicks"]} == {"a", "b", "c"}
