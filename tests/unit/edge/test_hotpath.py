"""The shortcuts of the /c hot path give exactly what the plain versions give."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from turnout.clickid import ClickIds
from turnout.config.compiled import CompiledCampaign, CompiledGraph, Target
from turnout.config.templates import MACROS, Template
from turnout.edge.addresses import ProxyTrust
from turnout.edge.clicks import (
    TOKEN_SLOTS,
    Tokens,
    click_stub,
    default_terms,
    fill_click,
    render,
    source_slots,
)
from turnout.edge.errors import BadInput
from turnout.edge.geo import GeoIP, Place
from turnout.edge.inputs import MAX_PARAMS, _parse_ascii, _parse_pairs, parse_query
from turnout.edge.observe import Observation, Observer, SeenVisitor
from turnout.edge.settings import DEFAULT_ASN_DB, DEFAULT_CITY_DB, parse_networks
from turnout.edge.useragent import Agent, UserAgents
from turnout.events import Click
from turnout.splitter.decide import decide
from turnout.splitter.types import Visitor

PUSH = source_slots((("zoneid", "sub1"), ("creative", "sub2"), ("bid", "cost"),
                     ("clickid", "external_id")))
PLACE = Place(ip=0xD64E0001, version=4, text="214.78.0.1", anonymised="214.78.0.0",
              country="US", region="US-CA", city="San Jose", asn=7922)
AGENT = Agent(device="mobile", os="iOS", browser="Mobile Safari", bot_reason="")
CLICK_ID = "01M7YPGTFDDHG53XPNTMQ98MHF"


def seen(place: Place = PLACE, agent: Agent = AGENT, visitor_id: str = "01M7YPGTFDDG1FQ9XFWXKVP001",
         language: str = "en", referrer: str = "news.example.org") -> Observation:
    return Observation(place, agent, "Mozilla/5.0 (iPhone)", language, referrer, "", visitor_id,
                       True, False)


def click_event(*, kind: str, click_id: str, parent_click_id: str, now_ms: int,
                campaign: CompiledCampaign, graph_version: int, rule_id: str,
                destination_id: str, target: Target | None, funnel_step: int,
                seen: Observation, tokens: Tokens,
                bot_reason: str, cost_micros: int) -> Click:
    """A click event in one go, every field from its source: what stub + fill must equal."""
    place, agent = seen.place, seen.agent
    deferred = campaign.cost_model.type in {"cpa", "revshare", "fixed_total"}
    payout_micros, currency = default_terms(target)
    return Click(
        kind=kind, click_id=click_id, parent_click_id=parent_click_id, ts_ms=now_ms,
        workspace_id=campaign.workspace.id, campaign_id=campaign.id,
        parent_campaign_id=campaign.parent_id or "", campaign_code=campaign.code,
        graph_version=graph_version, rule_id=rule_id,
        destination_id=destination_id,
        destination_kind=target.kind if target is not None else "",
        offer_id=target.offer_id if target is not None else "",
        offer_payout_micros=payout_micros, offer_currency=currency,
        lander_id=target.lander_id if target is not None else "",
        funnel_id=target.funnel_id if target is not None else "",
        funnel_step=funnel_step, traffic_source_id=campaign.traffic_source.id,
        network_id=target.network_id if target is not None else "",
        country=place.country, region=place.region, city=place.city, asn=place.asn,
        device=agent.device, os=agent.os, browser=agent.browser, language=seen.language,
        ip=place.text if campaign.workspace.raw_ip else place.anonymised,
        user_agent=seen.user_agent, referrer_domain=seen.referrer_domain,
        visitor_id=seen.visitor_id, is_bot=bool(bot_reason), bot_reason=bot_reason,
        cost_micros=cost_micros, cost_model=campaign.cost_model.type,
        cost_rate_micros=campaign.cost_model.value_micros if deferred else 0,
        attribution_window_ms=campaign.attribution_window_ms,
        unique_window_ms=campaign.unique_window_ms,
        subs=list(tokens.subs) if any(tokens.subs) else [],
        external_id=tokens.external_id, params=tokens.params,
    )


def macros(click_id: str, campaign: CompiledCampaign, target: Target | None,
           seen: Observation, tokens: Tokens, now_ms: int) -> dict[str, str]:
    """Every macro's value by name, `{param:NAME}` included: what `render` must equal."""
    place, agent, subs = seen.place, seen.agent, tokens.subs
    return {
        "clickid": click_id, "campaign_id": campaign.id, "campaign_code": campaign.code,
        "offer_id": target.offer_id if target is not None else "",
        "lander_id": target.lander_id if target is not None else "",
        "country": place.country, "region": place.region, "city": place.city,
        "device": agent.device, "os": agent.os, "browser": agent.browser,
        "language": seen.language, "external_id": tokens.external_id, "cost": tokens.cost,
        "visitor_id": seen.visitor_id, "ts": str(now_ms // 1000),
        **{f"sub{i + 1}": sub for i, sub in enumerate(subs)},
        **{f"param:{name}": value for name, value in tokens.params.items()},
    }


def test_fill_click_equals_click_event(compiled: CompiledGraph):
    stub = None
    for original in compiled.campaigns_by_id.values():
        for raw_ip in (False, True):
            campaign = dataclasses.replace(
                original, workspace=dataclasses.replace(original.workspace, raw_ip=raw_ip))
            for rule in campaign.table.rules:
                for choice in rule.choices:
                    target = choice.destination.payload
                    for params, bot_reason, kind, parent, step in (
                        ({"zoneid": "z1", "bid": "0.004", "clickid": "x", "other": "1"}, "",
                         "click", "", 0),
                        ({}, "ua_bot", "click", "", 0),
                        ({"sub2": "2"}, "", "lp_click", CLICK_ID[::-1], 2),
                    ):
                        tokens = Tokens(params, PUSH)
                        expected = click_event(
                            kind=kind, click_id=CLICK_ID, parent_click_id=parent,
                            now_ms=1_700_000, campaign=campaign, graph_version=7,
                            rule_id=rule.rule_id, destination_id=choice.destination.id,
                            target=target, funnel_step=step, seen=seen(),
                            tokens=tokens, bot_reason=bot_reason, cost_micros=4000)
                        stub = click_stub(kind=kind, campaign=campaign, graph_version=7,
                                          rule_id=rule.rule_id,
                                          destination_id=choice.destination.id, target=target,
                                          funnel_step=step)
                        got = fill_click(stub, raw_ip, CLICK_ID, 1_700_000, seen(), tokens,
                                         bot_reason, 4000, parent)
                        assert got == expected
    assert stub is not None
    # Events filled from one stub share nothing mutable.
    assert stub.click_id == "" and stub.subs == [] and stub.parent_click_id == ""
    a = fill_click(stub, False, CLICK_ID, 1, seen(), Tokens({"zoneid": "a"}, PUSH), "", 0)
    b = fill_click(stub, False, CLICK_ID, 1, seen(), Tokens({}, PUSH), "", 0)
    assert a.subs and not b.subs and a.subs is not stub.subs


def test_render_equals_the_full_macro_mapping(compiled: CompiledGraph):
    campaign = compiled.campaigns_by_code["CAMP_A"]
    target = campaign.table.rules[0].choices[0].destination.payload
    everything = "https://x.example/?" + "&".join(
        f"{name}={{{name}}}" for name in sorted(MACROS)
    ) + "&p={param:utm}&q={param:none}&c={clickid}"
    tokens = Tokens({"zoneid": "z 1", "creative": "ä/é", "bid": "0.2", "clickid": "ext",
                     "utm": "a&b", "sub5": "five"}, PUSH)
    for text in (everything, "https://x.example/plain", target.url.text):
        template = Template.parse(text)
        for observation in (seen(), seen(PLACE, AGENT, language="", referrer="")):
            for tgt in (target, None):
                expected = template.render(macros(CLICK_ID, campaign, tgt, observation, tokens,
                                                  1_700_000_123))
                assert render(template, CLICK_ID, campaign, tgt, observation, tokens,
                              1_700_000_123) == expected


def test_seen_visitor_decides_like_a_visitor(compiled: CompiledGraph):
    places = [PLACE, dataclasses.replace(PLACE, country="RU", region="", city=""),
              dataclasses.replace(PLACE, country="DE", version=6, ip=1 << 100)]
    agents = [AGENT, Agent("desktop", "Windows", "Chrome", ""), Agent("tablet", "Android", "", "")]
    for campaign in compiled.campaigns_by_id.values():
        for n, (place, agent) in enumerate((p, a) for p in places for a in agents):
            observation = seen(place, agent, visitor_id=f"01M7YPGTFDDG1FQ9XFWXKVP{n:03d}")
            for query in ({}, {"utm_content": "story-b"}):
                plain = Visitor(
                    visitor_id=observation.visitor_id, country=place.country,
                    region=place.region, city=place.city, device=agent.device, os=agent.os,
                    browser=agent.browser, language=observation.language, ip=place.ip,
                    ip_version=place.version, asn=place.asn,
                    referrer_domain=observation.referrer_domain, query=query, is_bot=False)
                fast = SeenVisitor(observation, query, False)
                assert isinstance(fast, Visitor)
                assert all(getattr(fast, f.name) == getattr(plain, f.name)
                           for f in dataclasses.fields(Visitor))
                for now_ms in (1_750_000_000_000, 1_750_040_000_000):  # a Mon, office hours
                    assert decide(campaign.table, fast, now_ms) == decide(
                        campaign.table, plain, now_ms)


_ASCII_QUERY = st.lists(
    st.tuples(st.text("abcXYZ019_.-=", max_size=70), st.text("abcxyz019_.-=~,:", max_size=1030)),
    max_size=8,
).map(lambda pairs: "&".join(f"{k}={v}" if v else k for k, v in pairs).encode())


def _outcome(parse, *args) -> dict[str, str] | str:
    try:
        return parse(*args)
    except BadInput as exc:
        return exc.reason


@settings(max_examples=300, deadline=None)
@given(_ASCII_QUERY)
def test_ascii_queries_parse_as_the_general_path_does(raw):
    assert _outcome(_parse_ascii, raw.decode().split("&")) == _outcome(_parse_pairs,
                                                                  raw.split(b"&"), True)


@pytest.fixture
def observer() -> Iterator[Observer]:
    trust = ProxyTrust(parse_networks(("127.0.0.1/32",), "test"))
    geo = GeoIP(DEFAULT_CITY_DB, DEFAULT_ASN_DB)
    try:
        yield Observer(geo, UserAgents(64), trust, ClickIds(), cache_size=64)
    finally:
        geo.close()


def test_observations_are_cached_per_raw_header_and_peer(observer: Observer):
    def look(peer: str, forwarded: bytes, ua: bytes = b"curl/8.0") -> Observation:
        return observer.observe({"client": (peer, 1), "headers": [
            (b"x-forwarded-for", forwarded), (b"user-agent", ua),
            (b"accept-language", b"de-DE,de;q=0.9"),
            (b"referer", b"https://user@News.Example.org.:8443/a?b")]}, 1_700_000_000_000)

    for _ in range(2):  # the second round is answered from the caches
        trusted = look("127.0.0.1", b"214.78.0.1")
        stranger = look("198.51.100.7", b"214.78.0.1")
        assert (trusted.place.text, trusted.place.country) == ("214.78.0.1", "US")
        assert stranger.place.text == "198.51.100.7"  # its X-Forwarded-For is not believed
        assert trusted.agent.bot_reason == "ua_bot" and trusted.user_agent == "curl/8.0"
        assert trusted.language == "de" and trusted.referrer_domain == "news.example.org"
        assert look("127.0.0.1", b"214.78.0.1", IPHONE_UA).agent.device == "mobile"


def test_repeated_headers_are_joined_and_limited_as_one(observer: Observer):
    visitor = "01M7YPGTFDDG1FQ9XFWXKVP001"
    seen = observer.observe({"client": ("127.0.0.1", 1), "headers": [
        (b"x-forwarded-for", b"198.51.100.7"), (b"cookie", b"a=1"),
        (b"x-forwarded-for", b"214.78.0.1"), (b"cookie", f"tv={visitor}".encode()),
        (b"sec-purpose", b"x"), (b"purpose", b"prefetch")]}, 1_700_000_000_000)
    assert seen.place.text == "214.78.0.1"  # the nearest hop of the joined list
    assert (seen.cookies, seen.visitor_id, seen.new_visitor) == (f"a=1; tv={visitor}", visitor,
                                                                 False)
    assert seen.prefetch
    for name in (b"x-forwarded-for", b"cookie"):
        half = b"1" * 4096  # each fits; joined they do not
        with pytest.raises(BadInput) as caught:
            observer.observe({"client": ("127.0.0.1", 1),
                              "headers": [(name, half), (name, half)]}, 1_700_000_000_000)
        assert caught.value.status == 431


IPHONE_UA = (b"Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
             b"(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1")


_QUERY_BYTES = st.one_of(
    _ASCII_QUERY,
    st.binary(max_size=300),
    st.lists(st.sampled_from([b"a", b"=", b"&", b"%", b"%2", b"%41", b"+", b"\xc3\xa4",
                              b"\xff", b"zoneid", b"x" * 70]), max_size=80).map(b"".join),
    st.tuples(st.integers(60, 70), st.sampled_from([b"p", b"p%41", b"\xc3\xa4"]))
    .map(lambda n_name: b"&".join(n_name[1] + b"%d=1" % i for i in range(n_name[0]))),
)


def _parse_general(raw: bytes) -> dict[str, str]:
    """parse_query without its ASCII shortcut: every pair through the decoding path."""
    if not raw:
        return {}
    if len(raw) > 4096:
        raise BadInput(414, "query string too long")
    pairs = raw.split(b"&")
    if len(pairs) > MAX_PARAMS:
        raise BadInput(400, "too many query parameters")
    return _parse_pairs(pairs, False)


@settings(max_examples=500, deadline=None)
@given(_QUERY_BYTES)
def test_parse_query_equals_the_general_path(raw):
    assert _outcome(parse_query, raw) == _outcome(_parse_general, raw)


def _reference_tokens(params: dict[str, str], slots: dict[str, int]) -> tuple[str, ...]:
    """Tokens before its two-pass form: one pass, a bit per slot filled by the source."""
    values = [""] * len(TOKEN_SLOTS)
    sourced = 0
    for name, value in params.items():
        slot = slots.get(name)
        from_source = slot is not None
        if slot is None:
            slot = TOKEN_SLOTS.get(name)
        if slot is None or not value:
            continue
        if from_source:
            values[slot] = value
            sourced |= 1 << slot
        elif not sourced & 1 << slot and not values[slot]:
            values[slot] = value
    return tuple(values)


# Few names, so that a source's names and ours often compete for one slot.
_TOKEN_NAMES = st.sampled_from(["zoneid", "zone", "sub1", "sub2", "bid", "cost", "other"])
_SOURCES = [PUSH, source_slots((("zoneid", "sub1"), ("zone", "sub1"), ("bid", "cost"))),
            source_slots((("sub2", "sub1"), ("sub1", "sub2"))), {}]


@settings(max_examples=300)
@given(st.lists(st.tuples(_TOKEN_NAMES, st.sampled_from(["", "a", "b"])), max_size=8),
       st.sampled_from(_SOURCES))
def test_tokens_equal_the_one_pass_reference(pairs, slots):
    params = dict(reversed(pairs))  # any order, names once each, as parse_query gives
    tokens = Tokens(params, slots)
    assert (*tokens.subs, tokens.cost, tokens.external_id) == _reference_tokens(params, slots)


def test_source_names_beat_ours_and_the_last_source_name_wins():
    slots = _SOURCES[1]
    for params, sub1 in (({"sub1": "o", "zoneid": "z"}, "z"), ({"zoneid": "z", "sub1": "o"}, "z"),
                         ({"zoneid": "", "sub1": "o"}, "o"), ({"zoneid": "z", "zone": "y"}, "y"),
                         ({"zone": "y", "zoneid": "z", "sub1": "o"}, "z")):
        assert Tokens(params, slots).subs[0] == sub1 == _reference_tokens(params, slots)[0]
