"""GET|POST /postback: a network reports a conversion for one of our click ids.

Authentication: the network's `secret` parameter, or `network` + `sig`, where `sig` is the
hex HMAC-SHA256, keyed with the network's `hmac_key`, of the canonical query: every
parameter except `sig`, sorted by name then value, each name and value percent-encoded
(RFC 3986 unreserved characters kept), joined as `name=value` with `&`.

The click id is checked from the id alone (format, and a timestamp neither older than the
attribution window nor in the future): no lookup. Every bad input is a 4xx with a reason,
never a 5xx, because networks retry 5xx. Duplicates are accepted; ingest dedupes them.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from typing import Final, TypedDict
from urllib.parse import quote

from turnout import clickid
from turnout.config.compiled import CompiledNetwork
from turnout.config.values import CURRENCIES
from turnout.edge.addresses import parse_address
from turnout.edge.errors import BadInput
from turnout.edge.graph import Snapshot
from turnout.edge.money import AmountError, amount_micros
from turnout.events import Conversion

CLICK_ID_NAMES: Final = ("clickid", "cid", "subid")
_EVENT_NAME = re.compile(r"[A-Za-z0-9_.:-]{1,64}")
_MAX_TXID = 128


def canonical_query(params: Mapping[str, str]) -> str:
    pairs = sorted((name, value) for name, value in params.items() if name != "sig")
    return "&".join(f"{quote(n, safe='-_.~')}={quote(v, safe='-_.~')}" for n, v in pairs)


def signature(key: str, params: Mapping[str, str]) -> str:
    return hmac.new(key.encode(), canonical_query(params).encode(), hashlib.sha256).hexdigest()


def authenticate(params: Mapping[str, str], snapshot: Snapshot) -> CompiledNetwork:
    secret = params.get("secret")
    if secret:
        network = snapshot.networks_by_secret.get(secret)
        if network is None or not hmac.compare_digest(network.secret.encode(), secret.encode()):
            raise BadInput(403, "unknown secret")
        return network
    network_id, sig = params.get("network", ""), params.get("sig", "")
    if network_id and sig:
        network = snapshot.graph.networks_by_id.get(network_id)
        if network is None or not network.hmac_key:
            raise BadInput(403, "unknown network or no signing key")
        expected = signature(network.hmac_key, params)
        if not hmac.compare_digest(expected.encode(), sig.lower().encode()):
            raise BadInput(403, "bad signature")
        return network
    raise BadInput(401, "a secret or a network and sig are required")


def click_id_of(params: Mapping[str, str], now_ms: int, max_age_ms: int, skew_ms: int) -> str:
    raw = next((params[n] for n in CLICK_ID_NAMES if params.get(n)), "")
    if not raw:
        raise BadInput(400, "clickid is required")
    try:
        normal = clickid.normalize(raw.strip())
    except clickid.ClickIdError:
        raise BadInput(400, "malformed click id") from None
    ts = clickid.timestamp_ms(normal)
    if ts > now_ms + skew_ms:
        raise BadInput(400, "click id is from the future")
    if now_ms - ts > max_age_ms:
        raise BadInput(410, "click id is older than the attribution window")
    return normal


def status_of(raw: str, statuses: Mapping[str, str]) -> str:
    if not raw:
        return "approved"
    status = statuses.get(raw) or statuses.get(raw.strip().lower())
    if status is None:
        raise BadInput(400, "unknown status")
    return status


def payout_of(raw: str) -> int:
    if not raw:
        return 0
    try:
        return amount_micros(raw)
    except AmountError as exc:
        raise BadInput(400, f"payout {exc}") from None


def currency_of(raw: str, default: str) -> str:
    if not raw:
        return default
    code = raw.strip().upper()
    if code not in CURRENCIES:
        raise BadInput(400, "unknown currency")
    return code


class Money(TypedDict):
    """A conversion's money as its request named it (the Conversion fields of that name)."""

    payout_micros: int
    payout_given: bool
    currency: str
    currency_given: bool


def money_of(params: Mapping[str, str], workspace_currency: str) -> Money:
    """`payout` and `currency` of a conversion request. What it leaves out, ingest fills
    from the attributed click's offer: its default payout, and the currency it pays in
    (of that default, or of a named payout); `currency` is the workspace's until then,
    which is what a conversion with no click keeps."""
    payout, currency = params.get("payout", ""), params.get("currency", "")
    return Money(payout_micros=payout_of(payout), payout_given=bool(payout),
                 currency=currency_of(currency, workspace_currency),
                 currency_given=bool(currency))


def event_of(raw: str, default: str = "sale") -> str:
    if not raw:
        return default
    if _EVENT_NAME.fullmatch(raw) is None:
        raise BadInput(400, "event must be 1-64 of A-Z a-z 0-9 _ . : -")
    return raw


def txid_of(raw: str) -> str:
    if len(raw) > _MAX_TXID or not raw.isprintable():
        raise BadInput(400, "txid must be at most 128 printable characters")
    return raw


def calling_network(params: Mapping[str, str], snapshot: Snapshot,
                    client_ip: str) -> CompiledNetwork:
    """The network whose credentials the request carries, from an address it allows."""
    network = authenticate(params, snapshot)
    if network.ip_allowlist:
        address = parse_address(client_ip)
        if address is None or not network.allowlist_index.contains(address.version,
                                                                   int(address)):
            raise BadInput(403, "address not allowed for this network")
    return network


def conversion(params: Mapping[str, str], snapshot: Snapshot, client_ip: str, now_ms: int,
               conversion_id: str, max_age_ms: int, skew_ms: int) -> Conversion:
    """The Conversion a postback stands for; raises BadInput (4xx + reason) otherwise."""
    network = calling_network(params, snapshot, client_ip)
    click = click_id_of(params, now_ms, max_age_ms, skew_ms)
    workspace = snapshot.graph.workspaces_by_id.get(network.workspace_id)
    return Conversion(
        conversion_id=conversion_id,
        click_id=click,
        workspace_id=network.workspace_id,
        network_id=network.id,
        txid=txid_of(params.get("txid", "")),
        status=status_of(params.get("status", ""), network.statuses),
        event=event_of(params.get("event", "")),
        **money_of(params, workspace.currency if workspace is not None else ""),
        ts_ms=now_ms,
        source="postback",
        any_offer=network.convert_other_offers,
    )
