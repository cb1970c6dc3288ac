"""The postback a conversion gets: the template filled, the payout share, the sampling."""

from __future__ import annotations

import dataclasses

from hypothesis import given, settings
from hypothesis import strategies as st

from turnout.config.compiled import CompiledTrafficSource
from turnout.config.templates import POSTBACK_MACROS, Template
from turnout.governor.postback_fill import Conversion, chosen, postback_url, reported_payout

SOURCE = CompiledTrafficSource(id="push", workspace_id="acme", name="Push", tokens={},
                               params=(), postback_url=None, payout_percent_micros=80_000_000)
CONVERSION = Conversion(
    workspace_id="acme", traffic_source_id="push", campaign_id="camp-a",
    click_id="01JCLICK", txid="tx 1/2", status="approved", ts_ms=1_767_225_600_123,
    payout_micros=12_500_000, currency="EUR", event="sale",
    click={"external_id": "ext&1", "sub1": "zone 7", "country": "DE", "visitor_id": "v1",
           "cost": "0.05"},
    params={"gclid": "g?1"})


def fill(text: str, source: CompiledTrafficSource = SOURCE,
         conversion: Conversion = CONVERSION) -> str:
    return postback_url(Template.parse(text, POSTBACK_MACROS), conversion, source)


def test_every_macro_is_filled_and_encoded() -> None:
    url = fill("https://pb.example.net/cv?cid={external_id}&click={clickid}&p={payout}"
               "&s={status}&tx={txid}&c={campaign_id}&z={sub1}&geo={country}&cur={currency}"
               "&e={event}&t={ts}&v={visitor_id}&cost={cost}&g={param:gclid}&empty={sub9}")
    assert url == ("https://pb.example.net/cv?cid=ext%261&click=01JCLICK&p=10&s=approved"
                   "&tx=tx%201%2F2&c=camp-a&z=zone%207&geo=DE&cur=EUR&e=sale&t=1767225600"
                   "&v=v1&cost=0.05&g=g%3F1&empty=")


def test_the_payout_share_is_cut_to_micros() -> None:
    assert reported_payout(12_500_000, 80_000_000) == 10_000_000
    assert reported_payout(1, 50_000_000) == 0  # half a micro is cut
    assert reported_payout(3_333_333, 33_333_333) == 1_111_110
    assert fill("https://pb.example.net/?p={payout}", dataclasses.replace(
        SOURCE, payout_percent_micros=33_500_000)) == "https://pb.example.net/?p=4.1875"
    assert fill("https://pb.example.net/?p={payout}", dataclasses.replace(
        SOURCE, payout_percent_micros=0)) == "https://pb.example.net/?p=0"


def test_the_choice_is_the_conversions_not_its_status() -> None:
    for i in range(200):
        one = dataclasses.replace(CONVERSION, click_id=f"c{i}")
        assert chosen(one, 50_000_000) == chosen(
            dataclasses.replace(one, status="pending", payout_micros=1), 50_000_000)
    assert chosen(CONVERSION, 100_000_000) and not chosen(CONVERSION, 0)


@settings(max_examples=30, deadline=None)
@given(percent=st.integers(0, 100_000_000), salt=st.text(max_size=8))
def test_the_chosen_share_is_the_percentage(percent: int, salt: str) -> None:
    total = 20_000
    hits = sum(chosen(dataclasses.replace(CONVERSION, click_id=f"{salt}{i}"), percent)
               for i in range(total))
    expected = total * percent / 100_000_000
    # 4.5 standard deviations of a binomial count: a fair hash misses it once in ~150,000.
    spread = 4.5 * (total * 0.25) ** 0.5
    assert abs(hits - expected) <= spread
