"""Conversions on lander traffic take the offer and network of the LP click they follow
(issue #10, finding 1): the rule, and the conversion pipeline waiting for the LP click."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import msgspec

from tests.unit.ingest.test_attribution import DAY, conv, ref
from tests.unit.ingest.test_pipelines import (
    IDS,
    NOW_MS,
    TOPIC,
    Recorder,
    a_conversion,
    batch_of,
    column,
    make,
    stored_click,
)
from turnout.events import ENCODER
from turnout.ingest import attribution, lander_offers
from turnout.ingest.attribution import ClickRef
from turnout.ingest.batch import Span


def lp(click_id: str, ts_ms: int, offer: str, network: str, payout: int = 0,
       currency: str = "EUR") -> ClickRef:
    click = ref(click_id, ts_ms, kind="lp_click", offer_id=offer, network_id=network,
                lander_id="lp-1", destination_kind="offer")
    return dataclasses.replace(click, offer_payout_micros=payout, offer_currency=currency)


def test_the_latest_lp_click_before_the_conversion_names_the_offer() -> None:
    click = ref("K", 10 * DAY, destination_kind="lander", lander_id="lp-1", country="DE")
    newest_first = [lp("after", 100 * DAY + 5, "o-late", "n2"),
                    lp("second", 50 * DAY, "o-2", "n2", 7_000_000, "USD"),
                    lp("first", 20 * DAY, "o-1", "n1", 3_000_000)]
    assert lander_offers.went_to_lander(click)
    through = lander_offers.through(click, newest_first, 100 * DAY)
    # A postback without a payout earns the default payout of the offer clicked through to,
    # in the currency that offer pays in.
    row = attribution.attributed_row(conv(payout_given=False), through, "click_id")
    assert (row["offer_id"], row["network_id"], row["payout_micros"]) == ("o-2", "n2", 7_000_000)
    assert (row["currency"], row["currency_source"]) == ("USD", "offer")
    # The rest is the campaign click's: its lander, country, id and time.
    assert (row["lander_id"], row["country"], row["click_id"], row["click_ts"]) == (
        "lp-1", "DE", "K", 10 * DAY)
    assert row["click_kind"] == "click"
    # No LP click before the conversion: the campaign click as it is.
    assert lander_offers.through(click, newest_first[:1], 100 * DAY) == click


def test_only_campaign_clicks_to_a_lander_or_funnel_wait_for_an_offer() -> None:
    assert lander_offers.went_to_lander(ref("F", 1, destination_kind="funnel"))
    assert not lander_offers.went_to_lander(ref("O", 1, destination_kind="offer"))
    assert not lander_offers.went_to_lander(ref("U", 1, destination_kind="url"))
    assert not lander_offers.went_to_lander(ref("L", 1, kind="lp_click",
                                                destination_kind="lander"))


@dataclasses.dataclass
class WithLpClicks(Recorder):
    lp_clicks: dict[str, list[ClickRef]] = dataclasses.field(default_factory=dict)
    asked: list[tuple[list[str], int]] = dataclasses.field(default_factory=list)

    def lp_clicks_of(self, parents: Sequence[ClickRef], until_ms: int
                     ) -> dict[str, list[ClickRef]]:
        self.asked.append(([p.click_id for p in parents], until_ms))
        return {p.click_id: self.lp_clicks[p.click_id] for p in parents
                if p.click_id in self.lp_clicks}


def _lander_click(click_id: str) -> ClickRef:
    click = stored_click(click_id)
    dimensions: dict[str, Any] = {**click.dimensions, "destination_kind": "lander",
                                  "lander_id": "lp-1"}
    return dataclasses.replace(click, dimensions=dimensions, offer_payout_micros=1_000_000)


async def test_a_conversion_on_lander_traffic_waits_for_its_lp_click() -> None:
    recorder = WithLpClicks()
    pipeline = make("conversions", recorder, attribution_grace_s=60.0)
    parent = IDS.new(NOW_MS - 3000)
    recorder.clicks[parent] = _lander_click(parent)
    no_payout = msgspec.structs.replace(a_conversion(0, parent), payout_given=False)
    batch, span = batch_of([ENCODER.encode(no_payout)], first=2)
    assert await pipeline.write(pipeline.prepare(batch, span)) == {(TOPIC, 0): 2}
    assert recorder.log == [] and pipeline.has_pending()  # the LP click is not stored yet
    pipeline.committed({(TOPIC, 0): 2})
    recorder.lp_clicks[parent] = [lp("L", NOW_MS - 2000, "offer-x", "net-x", 4_500_000)]
    assert await pipeline.write(pipeline.prepare([], Span())) == {(TOPIC, 0): 3}
    [(_what, (_table, columns), _token)] = recorder.log
    assert column("conversions", columns, "offer_id") == ["offer-x"]
    assert column("conversions", columns, "network_id") == ["net-x"]
    assert column("conversions", columns, "payout_micros") == [4_500_000]
    assert column("conversions", columns, "lander_id") == ["lp-1"]
    assert recorder.asked[-1][0] == [parent]


async def test_without_an_lp_click_the_grace_ends_with_the_campaign_click() -> None:
    recorder = WithLpClicks()
    pipeline = make("conversions", recorder, attribution_grace_s=0.0)
    parent = IDS.new(NOW_MS - 3000)
    recorder.clicks[parent] = _lander_click(parent)
    offer = IDS.new(NOW_MS - 3000)
    recorder.clicks[offer] = stored_click(offer)
    batch, span = batch_of([ENCODER.encode(a_conversion(0, parent)),
                            ENCODER.encode(a_conversion(1, offer))])
    assert await pipeline.write(pipeline.prepare(batch, span)) == {(TOPIC, 0): 2}
    [(_what, (_table, columns), _token)] = recorder.log
    assert column("conversions", columns, "offer_id") == ["", ""]
    assert column("conversions", columns, "attributed") == [True, True]
    assert recorder.asked == [([parent], NOW_MS + 1)]  # direct-offer clicks are not looked up
