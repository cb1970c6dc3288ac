"""What one postback says: the source's template filled from a conversion and its click.

Pure functions: the same conversion always gives the same URL and the same postback_percent
choice, so a retry, a restart or a second governor decides exactly as the first did.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

from turnout.config.compiled import CompiledTrafficSource
from turnout.config.templates import PARAM_PREFIX, Template
from turnout.events import MICROS, amount_text

_ALL: Final = 100 * MICROS  # 100 % in percent micros
_HASH_SPACE: Final = 1 << 64


@dataclass(frozen=True, slots=True)
class Conversion:
    """An attributed conversion in its latest status, with what its click knew."""

    workspace_id: str
    traffic_source_id: str
    campaign_id: str
    click_id: str
    txid: str
    status: str
    ts_ms: int  # when the edge accepted this status
    payout_micros: int  # in `currency`
    currency: str
    event: str
    # The click's macros: campaign_code, offer_id, lander_id, country, region, city, device,
    # os, browser, language, external_id, sub1..sub10, visitor_id, cost.
    click: Mapping[str, str] = field(default_factory=dict)
    params: Mapping[str, str] = field(default_factory=dict)  # the click URL's other parameters

    @property
    def key(self) -> tuple[str, str, str, str]:
        """One postback: a conversion in one status."""
        return (self.workspace_id, self.click_id, self.txid, self.status)


def chosen(conversion: Conversion, percent_micros: int) -> bool:
    """Is the conversion one of the `percent_micros` / 1e6 % reported? By a hash of the
    conversion (not of its status), so each of its statuses gets the same answer and the
    chosen share of many conversions is the percentage."""
    if percent_micros >= _ALL:
        return True
    text = f"{conversion.workspace_id}\x1f{conversion.click_id}\x1f{conversion.txid}"
    point = int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")
    return point * _ALL < percent_micros * _HASH_SPACE


def reported_payout(payout_micros: int, percent_micros: int) -> int:
    """The source's share of the payout, cut to whole micros."""
    return payout_micros * percent_micros // _ALL


def postback_url(template: Template, conversion: Conversion,
                 source: CompiledTrafficSource) -> str:
    """`template` (the source's postback URL) filled for `conversion`, every value
    percent-encoded (config.templates)."""
    own = {"clickid": conversion.click_id, "txid": conversion.txid,
           "status": conversion.status, "campaign_id": conversion.campaign_id,
           "currency": conversion.currency, "event": conversion.event,
           "ts": str(conversion.ts_ms // 1000),
           "payout": amount_text(reported_payout(conversion.payout_micros,
                                                 source.payout_percent_micros))}
    values = []
    for name in template.macros:
        if name.startswith(PARAM_PREFIX):
            values.append(conversion.params.get(name[len(PARAM_PREFIX):], ""))
        else:
            values.append(own[name] if name in own else conversion.click.get(name, ""))
    return template.fill(values)
