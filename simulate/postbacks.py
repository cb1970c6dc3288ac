"""The postbacks to send: conversions for counted clicks, their duplicates and status
changes, and bad requests a network (or an attacker) could make.

A chain is sent one request after the other, each after the previous one's answer, so the
edge receives them in order and the latest status in the chain is the one that stays.
Authentication is the network's secret, or for a network with an HMAC key, now and then
`network` + `sig`: hex HMAC-SHA256 of the canonical query (every parameter but `sig`,
sorted by name then value, percent-encoded with RFC 3986 unreserved characters kept,
joined as name=value with &), as SPEC §4 and edge/postback.py describe it.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final
from urllib.parse import quote

from turnout import clickid
from turnout.config.compiled import CompiledGraph, CompiledNetwork
from turnout.simulate import profiles
from turnout.simulate.money import format_payout

DAY_MS: Final = 86_400_000
# scenario -> statuses sent in order for one (click, txid); weights below
SCENARIOS: Final = {
    "approved": ("approved",),
    "duplicate": ("approved", "approved"),
    "chargeback": ("approved", "chargeback"),
    "pending_then_approved": ("pending", "approved"),
    "pending": ("pending",),
    "declined": ("declined",),
}
_WEIGHTS: Final = {"approved": 40, "duplicate": 15, "chargeback": 12,
                   "pending_then_approved": 15, "pending": 10, "declined": 8}
REJECTS: Final = ("malformed", "future", "too_old", "unknown_secret", "bad_signature",
                  "address_not_allowed", "unknown_status", "no_auth")


@dataclass(frozen=True, slots=True)
class Postback:
    case: str
    params: tuple[tuple[str, str], ...]
    ip: str
    accept: bool  # the edge must answer 200; else a 4xx
    status_code: int = 0  # the exact 4xx expected, 0 for "any 4xx"
    click_id: str = ""
    txid: str = ""
    status: str = ""  # canonical status of an accepted postback
    payout_micros: int = 0
    currency: str = ""  # what ingest counts the payout in, named or not; "" = the workspace's


def canonical_query(params: Mapping[str, str]) -> str:
    pairs = sorted((name, value) for name, value in params.items() if name != "sig")
    return "&".join(f"{quote(n, safe='-_.~')}={quote(v, safe='-_.~')}" for n, v in pairs)


def sign(key: str, params: Mapping[str, str]) -> str:
    return hmac.new(key.encode(), canonical_query(params).encode(), hashlib.sha256).hexdigest()


def source_ip(network: CompiledNetwork) -> str:
    """An address the network may post from (inside its allowlist when it has one)."""
    if network.ip_allowlist:
        block = network.ip_allowlist[0]
        return str(block.network_address + min(7, block.num_addresses - 1))
    return profiles.POSTBACK_IP


def outside_ip(network: CompiledNetwork) -> str | None:
    """An address outside the network's allowlist; None when it has none."""
    if not network.ip_allowlist:
        return None
    for candidate in ("192.0.2.77", "198.18.0.1", "2001:db8:dead::1"):
        address = ipaddress.ip_address(candidate)
        if not any(address in block for block in network.ip_allowlist):
            return candidate
    return None


class Planner:
    def __init__(self, graph: CompiledGraph, rng: random.Random, now_ms: int) -> None:
        self.graph = graph
        self.rng = rng
        self.now_ms = now_ms
        self.networks = sorted(graph.networks_by_id.values(), key=lambda n: n.id)
        self.payouts = {
            n.id: sorted({o.payout_micros for o in graph.offers_by_id.values()
                          if o.network_id == n.id and o.payout_micros}) or [1_000_000]
            for n in self.networks
        }
        self._serial = 0

    def _word(self, network: CompiledNetwork, status: str) -> str:
        words = sorted(w for w, s in network.statuses.items() if s == status)
        return self.rng.choice(words)

    def _auth(self, network: CompiledNetwork, params: dict[str, str]) -> dict[str, str]:
        if network.hmac_key and self.rng.random() < 0.5:
            params["network"] = network.id
            params["sig"] = sign(network.hmac_key, params)
        else:
            params["secret"] = network.secret
        return params

    def txid(self) -> str:
        self._serial += 1
        return f"tx{self._serial:06d}{self.rng.getrandbits(24):06x}"

    def chain(self, click_id: str, workspace_id: str, scenario: str,
              network_id: str = "", offer_currency: str = "") -> list[Postback]:
        """A network's postbacks for the click: the network of the click's offer when it
        has one (another network's would be refused as foreign_network), else any of the
        workspace's networks. The payout is in the currency that offer pays in, named or
        left to the offer (half each); with no offer reached, in the workspace currency,
        always named (unnamed, ingest would take the lander's first CTA offer's)."""
        networks = [n for n in self.networks if n.workspace_id == workspace_id]
        network = self.rng.choice(networks)  # drawn either way: the same seed, same stream
        network = self.graph.networks_by_id.get(network_id, network)
        txid = self.txid()
        payout = self.rng.choice(self.payouts[network.id])
        currency = offer_currency or self.graph.workspaces_by_id[workspace_id].currency
        sent: list[Postback] = []
        first: tuple[tuple[str, str], ...] | None = None
        for status in SCENARIOS[scenario]:
            if scenario == "duplicate" and first is not None:
                params = first  # the very same request, as a retrying network sends it
            else:
                query = {"clickid": click_id, "txid": txid, "payout": format_payout(payout),
                         "status": self._word(network, status)}
                if self.rng.random() < 0.5 or not offer_currency:
                    query["currency"] = currency
                params = tuple(self._auth(network, query).items())
                first = params
            sent.append(Postback(scenario, params, source_ip(network), True, 200, click_id,
                                 txid, status, payout, currency))
        return sent

    def scenario(self) -> str:
        names = list(_WEIGHTS)
        return self.rng.choices(names, weights=[_WEIGHTS[n] for n in names])[0]

    def orphan(self, workspace_id: str) -> Postback:
        """A well-formed, recent click id the edge never issued: accepted, never counted."""
        network = self.rng.choice([n for n in self.networks if n.workspace_id == workspace_id])
        click = clickid.encode(self.now_ms - 60_000, self.rng.getrandbits(80))
        txid = self.txid()
        params = self._auth(network, {"clickid": click, "txid": txid, "payout": "1.00"})
        return Postback("orphan", tuple(params.items()), source_ip(network), True, 200, click,
                        txid, "approved", 1_000_000)

    def reject(self, case: str, some_click: str) -> Postback | None:
        """A request the edge must refuse with a 4xx (None when the graph cannot make it)."""
        rng = self.rng
        network = rng.choice(self.networks)
        query = {"clickid": some_click, "txid": self.txid(), "payout": "5"}
        expect = 0
        ip = source_ip(network)
        if case == "malformed":
            query["clickid"] = rng.choice(("not-a-click-id", "Z" * 26, "01ARZ3NDEK", "%00"))
        elif case == "future":
            query["clickid"] = clickid.encode(self.now_ms + 2 * DAY_MS, rng.getrandbits(80))
        elif case == "too_old":
            query["clickid"] = clickid.encode(self.now_ms - 400 * DAY_MS, rng.getrandbits(80))
        elif case == "unknown_status":
            query["status"] = "maybe-later"
        elif case == "unknown_secret":
            query["secret"] = f"not-a-secret-{rng.getrandbits(32):08x}"
            return Postback(case, tuple(query.items()), ip, False, 403)
        elif case == "bad_signature":
            signed = next((n for n in self.networks if n.hmac_key), None)
            if signed is None:
                return None
            query.update(network=signed.id, sig="0" * 64)
            return Postback(case, tuple(query.items()), source_ip(signed), False, 403)
        elif case == "address_not_allowed":
            fenced = next((n for n in self.networks if n.ip_allowlist), None)
            outside = None if fenced is None else outside_ip(fenced)
            if fenced is None or outside is None:
                return None
            query["secret"] = fenced.secret
            return Postback(case, tuple(query.items()), outside, False, 403)
        elif case == "no_auth":
            return Postback(case, tuple(query.items()), ip, False, 401)
        params = tuple(self._auth(network, query).items())
        return Postback(case, params, ip, False, expect)


def plan_postbacks(graph: CompiledGraph, clicks: Sequence[tuple[str, str]], bot_clicks:
                   Sequence[tuple[str, str]], total: int, seed: int, now_ms: int,
                   networks: Mapping[str, str] | None = None,
                   currencies: Mapping[str, str] | None = None) -> list[list[Postback]]:
    """About `total` postback requests, as chains; `clicks` are (click id, workspace id) of
    counted non-bot clicks in plan order, `bot_clicks` the same for bots; `networks` and
    `currencies` map a click id to the network of its offer and the currency that offer
    pays in, where it has one."""
    by_click = networks or {}
    paid_in = currencies or {}
    rng = random.Random(seed ^ 0x5EED)
    planner = Planner(graph, rng, now_ms)
    chains: list[list[Postback]] = []
    if not clicks or total <= 0:
        return chains
    rejects = max(len(REJECTS), total // 12)
    orphans = max(1, total // 100)
    bots = min(len(bot_clicks), max(1, total // 100))
    budget = total - rejects - orphans - bots
    order = list(range(len(clicks)))
    rng.shuffle(order)
    used = 0
    while budget > 0:
        click, workspace = clicks[order[used % len(order)]]
        used += 1
        chain = planner.chain(click, workspace, planner.scenario(), by_click.get(click, ""),
                              paid_in.get(click, ""))
        chains.append(chain)
        budget -= len(chain)
    for click, workspace in rng.sample(list(bot_clicks), bots):
        chains.append(planner.chain(click, workspace, "approved", by_click.get(click, ""),
                                    paid_in.get(click, "")))
    workspaces = sorted({w for _c, w in clicks})
    chains.extend([planner.orphan(rng.choice(workspaces))] for _ in range(orphans))
    for i in range(rejects):
        made = planner.reject(REJECTS[i % len(REJECTS)], clicks[rng.randrange(len(clicks))][0])
        if made is not None:
            chains.append([made])
    rng.shuffle(chains)
    return chains
