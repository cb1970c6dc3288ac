from __future__ import annotations

from typing import Any

from turnout.events import Conversion
from turnout.ingest import attribution, schema
from turnout.ingest.attribution import ClickRef

DAY = attribution.DAY_MS


def ref(click_id: str, ts_ms: int, **dims: Any) -> ClickRef:
    dimensions = {name: "" for name in attribution.DIMENSION_NAMES}
    dimensions.update(is_bot=False, graph_version=1, funnel_step=0, cost_rate_micros=0)
    dimensions.update(workspace_id="w", campaign_id="c1")
    window = dims.pop("window", 0)
    kind = dims.pop("kind", "click")
    dimensions.update(dims)
    return ClickRef(click_id, ts_ms, kind, "v", window, dimensions)


def conv(**fields: Any) -> Conversion:
    values: dict[str, Any] = {"conversion_id": "X", "ts_ms": 100 * DAY}
    values.update(fields)
    return Conversion(**values)


def test_a_later_status_has_a_higher_version_and_ties_are_fixed() -> None:
    version = attribution.version
    approved = version(conv(status="approved", ts_ms=1000))
    assert version(conv(status="chargeback", ts_ms=1001)) > approved
    assert version(conv(status="chargeback", ts_ms=1000)) > approved
    assert version(conv(status="pending", ts_ms=1001)) > approved
    assert version(conv(status="approved", ts_ms=999)) < approved


def test_attributed_rows_carry_the_click_and_the_window_flag() -> None:
    click = ref("K", 100 * DAY - 10 * DAY, country="DE", sub3="z", network_id="n-click")
    row = attribution.attributed_row(conv(network_id="n-conv"), click, "click_id")
    assert set(row) == {name for name, _type in schema.CONVERSIONS}
    assert (row["country"], row["sub3"], row["network_id"]) == ("DE", "z", "n-conv")
    assert row["in_window"] and row["attributed"] and row["click_ts"] == click.ts_ms
    late = ref("K", 100 * DAY - 31 * DAY)
    assert not attribution.attributed_row(conv(), late, "click_id")["in_window"]
    short = ref("K", 100 * DAY - 2 * DAY, window=DAY)
    assert not attribution.attributed_row(conv(), short, "click_id")["in_window"]


def test_unattributed_rows_have_every_column_and_no_click() -> None:
    row = attribution.unattributed_row(conv(workspace_id="w", campaign_id="c9"))
    assert set(row) == {name for name, _type in schema.CONVERSIONS}
    assert (row["attributed"], row["in_window"], row["campaign_id"]) == (False, False, "c9")


def test_last_touch_takes_the_newest_counted_click_before_the_conversion() -> None:
    newest_first = [
        ref("future", 100 * DAY + 1),
        ref("bot", 100 * DAY - 1, is_bot=True),
        ref("lp", 100 * DAY - 2, kind="lp_click"),
        ref("other-campaign", 100 * DAY - 3, campaign_id="c2"),
        ref("hit", 100 * DAY - 4),
        ref("older", 100 * DAY - 5),
    ]
    assert attribution.last_touch(conv(), newest_first).click_id == "other-campaign"  # type: ignore[union-attr]
    in_c1 = attribution.last_touch(conv(campaign_id="c1"), newest_first)
    assert in_c1 is not None and in_c1.click_id == "hit"
    assert attribution.last_touch(conv(workspace_id="elsewhere"), newest_first) is None


def test_a_conversion_without_payout_earns_the_offer_default_of_its_click() -> None:
    click = ClickRef("K", 99 * DAY, "click", "v", 0, ref("K", 99 * DAY).dimensions, 12_500_000)
    given = attribution.attributed_row(conv(payout_micros=3_000_000), click, "click_id")
    missing = attribution.attributed_row(conv(payout_given=False), click, "click_id")
    assert given["payout_micros"] == 3_000_000
    assert missing["payout_micros"] == 12_500_000
    assert attribution.unattributed_row(conv(payout_given=False))["payout_micros"] == 0


def test_an_unnamed_currency_is_the_one_the_clicks_offer_pays_in() -> None:
    """A USD offer in a EUR workspace: the edge put EUR (the workspace's) in an unnamed
    currency; the offer's USD wins, and a default payout is in USD whatever was named."""
    click = ClickRef("K", 99 * DAY, "click", "v", 0, ref("K", 99 * DAY).dimensions,
                     12_000_000, "USD")

    def money(**fields: Any) -> tuple[int, str, str]:
        row = attribution.attributed_row(conv(**fields), click, "click_id")
        return row["payout_micros"], row["currency"], row["currency_source"]

    unnamed = {"currency": "EUR", "currency_given": False}
    assert money(payout_given=False, **unnamed) == (12_000_000, "USD", "offer")
    assert money(payout_micros=5_000_000, **unnamed) == (5_000_000, "USD", "offer")
    assert money(payout_micros=5_000_000, currency="GBP") == (5_000_000, "GBP", "request")
    assert money(payout_given=False, currency="GBP") == (12_000_000, "USD", "offer")
    # A click on a path with no offer (or stored before clicks kept the currency).
    bare = ClickRef("K", 99 * DAY, "click", "v", 0, click.dimensions)
    row = attribution.attributed_row(conv(payout_micros=1, **unnamed), bare, "click_id")
    assert (row["currency"], row["currency_source"]) == ("EUR", "workspace")
    named = attribution.attributed_row(conv(payout_given=False, currency="GBP"), bare, "x")
    assert (named["currency"], named["currency_source"]) == ("GBP", "request")
    # No click found: the workspace's, said so; a named one stays.
    orphan = attribution.unattributed_row(conv(payout_micros=1, **unnamed))
    assert (orphan["currency"], orphan["currency_source"]) == ("EUR", "workspace")
    orphan = attribution.unattributed_row(conv(payout_micros=1, currency="GBP"))
    assert (orphan["currency"], orphan["currency_source"]) == ("GBP", "request")


def test_an_event_from_an_older_edge_keeps_the_currency_it_names() -> None:
    """Edges before currency_given wrote the workspace currency as if named; such an event
    decodes, and nothing can tell it apart: it stays in that currency."""
    from turnout.ingest import validate

    raw = (b'{"v":1,"conversion_id":"01M7YPGTFDDHG53XPNTMQ98MHF","click_id":'
           b'"01M7YPGTFDDHG53XPNTMQ98MHG","workspace_id":"w","currency":"EUR","ts_ms":1000}')
    old = validate.conversion(raw)
    click = ClickRef("K", 0, "click", "v", 0, ref("K", 0).dimensions, 12_000_000, "USD")
    row = attribution.attributed_row(old, click, "click_id")
    assert (row["currency"], row["currency_source"]) == ("EUR", "request")


def test_a_network_conversion_outranks_any_page_conversion_of_the_same_txid() -> None:
    version = attribution.version
    network = version(conv(status="approved", ts_ms=1000, network_id="alpha"))
    assert version(conv(status="chargeback", ts_ms=10**13, source="pixel")) < network
    assert version(conv(status="chargeback", ts_ms=1001, network_id="alpha")) > network


def test_refusal_keeps_conversions_in_their_clicks_workspace_and_network() -> None:
    click = ref("K", 99 * DAY, network_id="alpha")  # workspace "w"
    assert attribution.refusal(conv(workspace_id="w", network_id="alpha"), click) is None
    assert attribution.refusal(conv(workspace_id="w", source="pixel"), click) is None
    reason, detail = attribution.refusal(conv(workspace_id="b", network_id="alpha"), click) \
        or ("", "")
    assert reason == "cross_workspace" and "'w'" in detail and "'b'" in detail
    foreign = conv(workspace_id="w", network_id="beta")
    assert (attribution.refusal(foreign, click) or ("",))[0] == "foreign_network"
    assert attribution.refusal(conv(workspace_id="w", network_id="beta", any_offer=True),
                               click) is None
    # A click that names no network (a lander, a direct URL): any network of its workspace.
    assert attribution.refusal(foreign, ref("L", 99 * DAY)) is None


def test_every_row_that_does_not_count_says_why() -> None:
    inside = attribution.attributed_row(conv(), ref("K", 99 * DAY), "click_id")
    late = attribution.attributed_row(conv(), ref("K", 100 * DAY - 2 * DAY, window=DAY),
                                      "click_id")
    by_id = attribution.unattributed_row(conv(click_id="K", visitor_id="v"))
    by_visitor = attribution.unattributed_row(conv(visitor_id="v1"))
    assert [r["not_counted_reason"] for r in (inside, late, by_id, by_visitor)] == [
        "", "outside_window", "click_not_found", "visitor_not_found"]
    assert set(attribution.NOT_COUNTED) == {"outside_window", "click_not_found",
                                            "visitor_not_found"}


def test_only_an_unattributed_visitor_conversion_keys_on_its_visitor() -> None:
    # Two unknown visitors must not share (workspace, campaign, click_id, txid).
    rows = [attribution.unattributed_row(conv(visitor_id=v)) for v in ("v1", "v2")]
    assert [r["visitor_key"] for r in rows] == ["v1", "v2"]
    assert attribution.unattributed_row(conv(click_id="K", visitor_id="v"))["visitor_key"] == ""
    visitor = attribution.attributed_row(conv(visitor_id="v1"), ref("K", 99 * DAY), "visitor")
    assert visitor["visitor_key"] == ""  # attributed: its click is its identity, as before
