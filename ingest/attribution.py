"""Attribution rules: which click a conversion belongs to, and the row it becomes.

Pure functions over looked-up click rows; ingest.store does the look-ups and
ingest.pipelines the holding and retrying. The rules:

- A conversion with a click id carries that click's dimensions.
- A visitor-based conversion (no click id) goes last-touch to the visitor's latest counted
  click (kind=click, not a bot) at or before the conversion, in the conversion's workspace
  and campaign when it names them. A later status for the same (visitor, txid) keeps the
  click the first status was attributed to, so it replaces that row instead of adding one.
- A conversion more than the click's attribution window after the click is kept with
  in_window=0; one whose click never appears within the grace period is kept with
  attributed=0. Neither carries revenue (see the conversions_latest view), and each says
  why in `not_counted_reason` (NOT_COUNTED): nothing accepted is dropped silently.
- A visitor conversion no click was found for keeps its visitor in `visitor_key`, part of
  the table's sort key, so unknown visitors never replace one another's rows.
- A conversion counts only in the workspace of its click (else `cross_workspace`) and,
  when a network reported it, only on a click of that network's offers, unless the network
  may convert other networks' offers (else `foreign_network`); see `refusal`.
- A network-reported conversion (one with a network_id) outranks every pixel or browser
  conversion of the same (click, txid), whenever either came: see `version`.
- Money: a conversion that names no payout takes its click's offer default payout, and
  the currency that offer pays in; one that names a payout but no currency takes the
  offer's currency too. Only without a click (or on a click with no offer) does an
  unnamed currency stay the workspace's. `currency_source` says which: see `currency`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from turnout.events import Conversion
from turnout.ingest import schema

DAY_MS: Final = 86_400_000
DEFAULT_ATTRIBUTION_WINDOW_MS: Final = 30 * DAY_MS
# Version = ts_ms * 8 + rank: a later status wins, and within one millisecond the order
# is fixed (a chargeback beats an approval) instead of depending on insert order.
STATUS_RANK: Final = {"pending": 0, "approved": 1, "declined": 2, "chargeback": 3}
# Set in the version of network-reported conversions, above any ts_ms * 8 (< 2**51): a
# pixel or browser conversion can never replace a network's, only its own earlier status.
NETWORK_RANK: Final = 1 << 62
CROSS_WORKSPACE: Final = "cross_workspace"
FOREIGN_NETWORK: Final = "foreign_network"
# not_counted_reason values: why a stored conversion counts in no report.
CLICK_NOT_FOUND: Final = "click_not_found"
VISITOR_NOT_FOUND: Final = "visitor_not_found"
OUTSIDE_WINDOW: Final = "outside_window"
# currency_source values: where a conversion's currency came from.
FROM_REQUEST: Final = "request"
FROM_OFFER: Final = "offer"
FROM_WORKSPACE: Final = "workspace"
NOT_COUNTED: Final = (CLICK_NOT_FOUND, VISITOR_NOT_FOUND, OUTSIDE_WINDOW)
DIMENSION_NAMES: Final = tuple(name for name, _type in schema.CLICK_DIMENSIONS)
# Columns a click look-up returns, in this order.
LOOKUP_COLUMNS: Final = (
    "click_id", "ts_ms", "kind", "visitor_id", "attribution_window_ms", "offer_payout_micros",
    "offer_currency", *DIMENSION_NAMES,
)
_BLANK_DIMENSIONS: Final[dict[str, Any]] = {
    name: (0 if type_.startswith(("UInt", "Int")) else False if type_ == "Bool" else "")
    for name, type_ in schema.CLICK_DIMENSIONS
}


@dataclass(frozen=True, slots=True)
class ClickRef:
    """A stored click as attribution needs it."""

    click_id: str
    ts_ms: int
    kind: str
    visitor_id: str
    attribution_window_ms: int
    dimensions: Mapping[str, Any]
    offer_payout_micros: int = 0
    offer_currency: str = ""  # "" for paths without an offer and clicks stored before 0013

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> ClickRef:
        click_id, ts_ms, kind, visitor_id, window, payout, currency, *dims = row
        return cls(
            str(click_id), int(ts_ms), str(kind), str(visitor_id), int(window),
            dict(zip(DIMENSION_NAMES, dims, strict=True)), int(payout), str(currency),
        )

    @property
    def window_ms(self) -> int:
        return self.attribution_window_ms or DEFAULT_ATTRIBUTION_WINDOW_MS


def version(conversion: Conversion) -> int:
    rank = NETWORK_RANK if conversion.network_id else 0
    return rank + conversion.ts_ms * 8 + STATUS_RANK[conversion.status]


def refusal(conversion: Conversion, click: ClickRef) -> tuple[str, str] | None:
    """(reason, detail) when `conversion` may not count on `click`; None when it may."""
    workspace = click.dimensions["workspace_id"]
    if workspace != conversion.workspace_id:
        return CROSS_WORKSPACE, (f"click {click.click_id} belongs to workspace {workspace!r}, "
                                 f"the conversion came for {conversion.workspace_id!r}")
    # A click with no network (a lander not yet clicked through, a direct URL) names no
    # offer to protect: any network of its workspace may convert it.
    network = click.dimensions["network_id"]
    if (conversion.network_id and network and network != conversion.network_id
            and not conversion.any_offer):
        return FOREIGN_NETWORK, (f"click {click.click_id} is on an offer of network "
                                 f"{network!r}, network {conversion.network_id!r} reported it")
    return None


def currency(conversion: Conversion, click: ClickRef | None) -> tuple[str, str]:
    """(currency, currency_source) of `conversion` attributed to `click` (None: none).

    A named currency stands, unless the payout is the offer's default (none named):
    that amount is in the offer's currency whatever the request said. Unnamed, it is the
    offer's; the workspace's (which the edge put in `currency`) only without an offer."""
    offer_currency = click.offer_currency if click is not None else ""
    if conversion.currency_given and (conversion.payout_given or not offer_currency):
        return conversion.currency, FROM_REQUEST
    if offer_currency:
        return offer_currency, FROM_OFFER
    return conversion.currency, FROM_WORKSPACE


def _base(conversion: Conversion) -> dict[str, Any]:
    return {
        "schema_version": conversion.v,
        "conversion_id": conversion.conversion_id,
        "click_id": conversion.click_id,
        "visitor_id": conversion.visitor_id,
        "txid": conversion.txid,
        "status": conversion.status,
        "event": conversion.event,
        "payout_micros": conversion.payout_micros,
        "currency": conversion.currency,
        "ts": conversion.ts_ms,
        "source": conversion.source,
        "version": version(conversion),
        "not_counted_reason": "",
        "visitor_key": "",
    }


def attributed_row(conversion: Conversion, click: ClickRef, how: str) -> dict[str, Any]:
    row = _base(conversion)
    row.update(click.dimensions)
    if conversion.network_id:
        row["network_id"] = conversion.network_id
    in_window = conversion.ts_ms - click.ts_ms <= click.window_ms
    row.update(
        click_id=click.click_id,
        attributed=True,
        attribution=how,
        in_window=in_window,
        click_ts=click.ts_ms,
        click_kind=click.kind,
        not_counted_reason="" if in_window else OUTSIDE_WINDOW,
    )
    if not conversion.payout_given:
        row["payout_micros"] = click.offer_payout_micros
    row["currency"], row["currency_source"] = currency(conversion, click)
    return row


def unattributed_row(conversion: Conversion) -> dict[str, Any]:
    row = _base(conversion)
    row.update(_BLANK_DIMENSIONS)
    row.update(
        workspace_id=conversion.workspace_id,
        campaign_id=conversion.campaign_id,
        network_id=conversion.network_id,
        attributed=False,
        attribution="none",
        in_window=False,
        click_ts=0,
        click_kind="",
        not_counted_reason=CLICK_NOT_FOUND if conversion.click_id else VISITOR_NOT_FOUND,
        visitor_key="" if conversion.click_id else conversion.visitor_id,
    )
    row["currency"], row["currency_source"] = currency(conversion, None)
    return row


def last_touch(conversion: Conversion, candidates: Sequence[ClickRef]) -> ClickRef | None:
    """The visitor's latest counted click at or before the conversion; newest first input."""
    for click in candidates:
        if click.kind != "click" or click.dimensions["is_bot"] or click.ts_ms > conversion.ts_ms:
            continue
        if conversion.workspace_id and click.dimensions["workspace_id"] != conversion.workspace_id:
            continue
        if conversion.campaign_id and click.dimensions["campaign_id"] != conversion.campaign_id:
            continue
        return click
    return None
