"""On-site events and conversions (GET /p.gif, POST /api/v1/events): who may send them,
and the Event or Conversion a request stands for.

Two kinds of caller. A page (browser) sends its workspace's public `pixel_key` from an
origin the workspace lists; what it reports is the visitor's own word, so it is scoped to
that workspace and never outranks a network (ingest: a network-reported conversion always
wins over a pixel or browser one of the same click and txid). A server sends a network's
`secret`, or `network` + `sig` signed like a postback (POST /api/v1/events only: a secret
on a page is no secret); its conversions are that network's, as if it had posted them.

`type=conversion` makes a conversion (payout, currency, status, txid); anything else is
an event, and money fields on an event are refused rather than dropped.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from turnout.config.compiled import CompiledCampaign, CompiledNetwork, CompiledWorkspace
from turnout.config.credentials import normal_origin
from turnout.edge import postback
from turnout.edge.errors import BadInput
from turnout.edge.graph import Snapshot
from turnout.edge.money import MAX_MICROS, parse_micros
from turnout.events import CONVERSION_STATUSES, Conversion, Event

TYPES: Final = ("event", "conversion")
CONVERSION_FIELDS: Final = ("payout", "currency", "status", "txid")
_STATUSES: Final = {s: s for s in CONVERSION_STATUSES}
_SERVER_PARAMS: Final = ("secret", "sig", "network")


@dataclass(frozen=True, slots=True)
class Caller:
    workspace: CompiledWorkspace
    network: CompiledNetwork | None = None  # server-to-server: whose credentials it sent


def request_origin(origin_header: str, referer_header: str) -> str:
    """The page's origin: the Origin header, else the Referer's (an <img> sends no Origin);
    "" when neither names one."""
    head, sep, rest = referer_header.partition("://")
    referer = head + sep + rest.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]
    for text in (origin_header, referer):
        normal = normal_origin(text) if text and text != "null" else None
        if normal is not None:
            return normal
    return ""


def caller_of(params: Mapping[str, str], origin: str, snapshot: Snapshot, client_ip: str,
              server_allowed: bool) -> Caller:
    """Who sent the request; raises BadInput (401/403) when nobody we know did."""
    if any(params.get(name) for name in _SERVER_PARAMS):
        if not server_allowed:
            raise BadInput(403, "network secrets are for server-to-server calls (POST "
                                "/api/v1/events); a page sends its workspace's pixel_key")
        network = postback.calling_network(params, snapshot, client_ip)
        workspace = snapshot.graph.workspaces_by_id.get(network.workspace_id)
        if workspace is None:
            raise BadInput(403, "unknown network")
        return Caller(workspace, network)
    key = params.get("pixel_key", "")
    if not key:
        raise BadInput(401, "a pixel_key (pages) or a network secret or signature (servers) "
                            "is required")
    workspace = snapshot.workspaces_by_pixel_key.get(key)
    if workspace is None:
        raise BadInput(403, "unknown pixel_key")
    if origin not in workspace.pixel_origins:
        raise BadInput(403, "origin not allowed for this pixel_key")
    return Caller(workspace)


def campaign_of(params: Mapping[str, str], caller: Caller,
                snapshot: Snapshot) -> CompiledCampaign | None:
    campaign_id = params.get("campaign_id", "")
    if not campaign_id:
        return None
    campaign = snapshot.graph.campaigns_by_id.get(campaign_id)
    if campaign is None or campaign.workspace.id != caller.workspace.id:
        raise BadInput(400, "campaign_id is not a campaign of this workspace")
    return campaign


def message(params: Mapping[str, str], caller: Caller, snapshot: Snapshot, *, click: str,
            visitor: str, identifier: str, now_ms: int, source: str,
            extra: Mapping[str, Any]) -> Conversion | Event:
    """The Conversion or Event the request stands for; raises BadInput otherwise."""
    kind = params.get("type", "event")
    if kind not in TYPES:
        raise BadInput(400, "type must be event or conversion")
    campaign = campaign_of(params, caller, snapshot)
    campaign_id = campaign.id if campaign is not None else ""
    workspace = caller.workspace
    if kind == "conversion":
        network = caller.network
        return Conversion(
            conversion_id=identifier, click_id=click, visitor_id=visitor,
            campaign_id=campaign_id, workspace_id=workspace.id,
            network_id=network.id if network is not None else "",
            txid=postback.txid_of(params.get("txid", "")),
            status=postback.status_of(params.get("status", ""),
                                      network.statuses if network is not None else _STATUSES),
            event=postback.event_of(params.get("event") or params.get("name", "")),
            **postback.money_of(params, workspace.currency),
            ts_ms=now_ms, source=source,
            any_offer=network is not None and network.convert_other_offers,
        )
    given = [name for name in CONVERSION_FIELDS if params.get(name)]
    if given:
        raise BadInput(400, f"{', '.join(given)} only with type=conversion (an event has "
                            "a value)")
    value = params.get("value", "")
    value_micros = parse_micros(value) if value else 0
    if value_micros is None or value_micros > MAX_MICROS:
        raise BadInput(400, "value must be a non-negative decimal amount")
    extras = {str(k)[:64]: str(v)[:256] for k, v in list(extra.items())[:32]}
    return Event(
        event_id=identifier,
        name=postback.event_of(params.get("event") or params.get("name", ""), "pageview"),
        visitor_id=visitor, click_id=click, campaign_id=campaign_id,
        workspace_id=workspace.id, value_micros=value_micros, ts_ms=now_ms, source=source,
        params=extras,
    )
