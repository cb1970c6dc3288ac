"""A realistic campaign graph at scale, for the validate -> compile -> publish path.

    python -m benchmarks.big_graph --campaigns 10000 --out /tmp/big.yaml [--format json]

Shape per campaign: 5 rules of 3 conditions and 4 weighted destinations each, and a
default path of 4; offers, landers and funnels are shared within a workspace (a few
hundred of each over ~12 workspaces), as are traffic sources and networks. The same seed
gives the same file. Written through `config.io.dump_graph`, so it is what an export of
such a graph looks like.
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

from turnout.config import model
from turnout.config.io import FORMATS, dump_graph

from .splitter_graph import BROWSERS, COUNTRIES, DEVICES, GROUP_NAMES, LANGUAGES, OSES

WORKSPACES = 12
OFFERS_PER_WORKSPACE = 26
LANDERS_PER_WORKSPACE = 13
FUNNELS_PER_WORKSPACE = 4
SOURCES_PER_WORKSPACE = 4
NETWORKS_PER_WORKSPACE = 3
RULES, CONDITIONS, DESTINATIONS = 5, 3, 4

TIMEZONES = ("UTC", "Europe/Berlin", "America/New_York", "Asia/Tokyo", "Europe/London",
             "America/Sao_Paulo", "Asia/Kolkata", "Australia/Sydney")
CURRENCIES = ("USD", "EUR", "GBP", "BRL")
VERTICALS = ("vpn", "antivirus", "dating", "sweeps", "nutra", "finance", "games", "cleaner")
SOURCE_TOKENS = (
    {"sub1": "zoneid", "sub2": "creative", "cost": "bid", "external_id": "clickid"},
    {"sub1": "adset", "sub2": "ad", "sub3": "placement", "external_id": "fbclid"},
    {"sub1": "site", "sub2": "campaign", "cost": "cpc", "external_id": "click_id"},
    {"sub1": "pub", "sub4": "device", "external_id": "tid"},
)
REGIONS = ("US-CA", "US-NY", "US-TX", "DE-BY", "GB-ENG", "BR-SP", "IN-MH", "FR-IDF")
REFERRERS = ("news.example.com", "games.example.net", "weather.example.org", "example.co.uk")
STATUS_WORDS = ({"1": "approved", "0": "pending", "-1": "declined"},
                {"sale": "approved", "hold": "pending", "refund": "chargeback"}, {})


class _Workspace:
    """What one workspace's campaigns may point at."""

    def __init__(self, index: int) -> None:
        self.id = f"ws{index:02d}"
        self.sources = [f"{self.id}-src{i}" for i in range(SOURCES_PER_WORKSPACE)]
        self.networks = [f"{self.id}-net{i}" for i in range(NETWORKS_PER_WORKSPACE)]
        self.offers = [f"{self.id}-off{i:02d}" for i in range(OFFERS_PER_WORKSPACE)]
        self.landers: list[tuple[str, int]] = []  # (id, cta_count)
        self.funnels = [f"{self.id}-fun{i}" for i in range(FUNNELS_PER_WORKSPACE)]
        self.campaigns: list[str] = []


def _condition(rng: random.Random) -> model.Condition:
    kind = rng.choices(
        ("country", "device", "language", "hour", "os", "browser", "weekday", "region",
         "asn", "referrer", "query", "bot"),
        weights=(30, 15, 10, 10, 8, 6, 6, 4, 3, 3, 3, 2),
    )[0]
    negate = rng.random() < 0.1
    values: tuple[str | int | bool, ...]
    if kind == "country":
        values = tuple(dict.fromkeys(rng.choice(COUNTRIES + GROUP_NAMES)
                                     for _ in range(rng.randint(1, 8))))
    elif kind == "device":
        values = tuple(sorted(set(rng.sample(DEVICES, 2))))
    elif kind == "language":
        values = tuple(dict.fromkeys(rng.sample(LANGUAGES, 3)))
    elif kind == "hour":
        start = rng.randrange(24)
        values = (f"{start}-{(start + rng.randint(3, 12)) % 24}",) if rng.random() < 0.8 \
            else tuple(sorted(rng.sample(range(24), 4)))
    elif kind == "os":
        values = tuple(rng.sample(OSES, 2))
    elif kind == "browser":
        values = tuple(rng.sample(BROWSERS, 2))
    elif kind == "weekday":
        values = ("mon-fri",) if rng.random() < 0.6 else ("sat", "sun")
    elif kind == "region":
        values = tuple(rng.sample(REGIONS, 2))
    elif kind == "asn":
        values = tuple(rng.sample((7922, 3320, 12389, 15169, 16509, 8075, 13335), 2))
    elif kind == "referrer":
        values = (rng.choice(REFERRERS),)
    elif kind == "query":
        return model.Condition(kind=kind, param="utm_content", negate=negate,
                               values=(f"ad-{rng.randrange(50)}", f"ad-{rng.randrange(50)}"))
    else:
        return model.Condition(kind=kind, values=(False,))
    return model.Condition(kind=kind, values=values, negate=negate)


def _destination(rng: random.Random, ws: _Workspace, index: int) -> model.Destination:
    weight = rng.choice((10, 20, 25, 30, 40, 50, 100))
    roll = rng.random()
    if roll < 0.5:
        return model.Destination(id=f"d{index}", kind="offer", ref=rng.choice(ws.offers),
                                 weight=weight)
    if roll < 0.85:
        lander, ctas = rng.choice(ws.landers)
        return model.Destination(id=f"d{index}", kind="lander", ref=lander, weight=weight,
                                 offers=tuple(rng.sample(ws.offers, ctas)))
    if roll < 0.92:
        return model.Destination(id=f"d{index}", kind="funnel", ref=rng.choice(ws.funnels),
                                 weight=weight)
    return model.Destination(
        id=f"d{index}", kind="url", weight=weight,
        url=f"https://shop{rng.randrange(40)}.example.com/p?cid={{clickid}}&s={{sub1}}",
    )


def _destinations(rng: random.Random, ws: _Workspace) -> tuple[model.Destination, ...]:
    return tuple(_destination(rng, ws, i) for i in range(DESTINATIONS))


def _campaign(rng: random.Random, ws: _Workspace, index: int) -> model.Campaign:
    cid = f"{ws.id}-c{index:05d}"
    parent = rng.choice(ws.campaigns) if ws.campaigns and rng.random() < 0.05 else None
    ws.campaigns.append(cid)
    cost = rng.choice((("cpc", "0.045"), ("cpm", "2.10"), ("url_param", "0"), ("cpa", "3.5"),
                       ("revshare", "40")))
    rules = tuple(
        model.Rule(
            id=f"r{r}",
            name=f"rule {r}",
            priority=rng.choice((None, None, -1, 1, 5)),
            conditions=tuple(_condition(rng) for _ in range(CONDITIONS)),
            destinations=_destinations(rng, ws),
        )
        for r in range(RULES)
    )
    schedule = model.Schedule()
    if rng.random() < 0.2:
        schedule = model.Schedule(start="2025-06-01T00:00:00", end="2031-01-01T00:00:00")
    bot = model.BotPolicy()
    if rng.random() < 0.3:
        bot = model.BotPolicy(action="url", url="https://www.example.com/?bot=1")
    return model.Campaign(
        id=cid,
        workspace=ws.id,
        name=f"{rng.choice(VERTICALS).title()} {rng.choice(COUNTRIES)} #{index}",
        code=f"{ws.id.upper()}C{index:06d}",
        parent=parent,
        traffic_source=rng.choice(ws.sources),
        status=rng.choices(("active", "paused", "draft"), weights=(85, 10, 5))[0],
        cost_model=model.CostModel(type=cost[0], value=cost[1]),
        schedule=schedule,
        budget=rng.choice((None, "500.00", "2500")),
        redirect_mode=rng.choice((302, 302, 302, "307", "meta", "double_meta")),
        bot_policy=bot,
        unique_window_hours=rng.choice((24, 24, 12, 48)),
        rules=rules,
        default=_destinations(rng, ws),
    )


def _shared(rng: random.Random, ws: _Workspace) -> dict[str, list[model.Entity]]:
    """One workspace's entities other than campaigns, by section."""
    ranges: tuple[str, ...] = ()
    if rng.random() < 0.5:
        blocks = [f"10.{rng.randrange(256)}.{rng.randrange(256)}.0/24" for _ in range(3)]
        ranges = (*blocks, "2001:db8:ffff::/48")
    out: dict[str, list[model.Entity]] = {name: [] for name, _ in model.SECTIONS}
    out["workspaces"].append(model.Workspace(
        id=ws.id, name=f"Workspace {ws.id}", timezone=rng.choice(TIMEZONES),
        currency=rng.choice(CURRENCIES), bot_ip_ranges=ranges))
    for i, sid in enumerate(ws.sources):
        out["traffic_sources"].append(model.TrafficSource(
            id=sid, workspace=ws.id, name=f"Source {sid}",
            tokens=SOURCE_TOKENS[i % len(SOURCE_TOKENS)],
            postback_url=f"https://pb.src{i}.example.net/cv?c={{external_id}}&p={{payout}}"
            if i % 2 == 0 else None,
            **({"postback_statuses": ("approved", "chargeback"), "payout_percent": "70.5",
                "postback_percent": "90"} if i % 4 == 2 else {}),
        ))
    for i, nid in enumerate(ws.networks):
        out["networks"].append(model.Network(
            id=nid, workspace=ws.id, name=f"Network {nid}",
            secret=f"secret-{nid}-{rng.getrandbits(32):08x}",
            ip_allowlist=(f"198.51.{rng.randrange(256)}.0/24",) if i == 0 else (),
            statuses=STATUS_WORDS[i % len(STATUS_WORDS)],
        ))
    for i, oid in enumerate(ws.offers):
        vertical = VERTICALS[i % len(VERTICALS)]
        capped = i % 7 == 1
        out["offers"].append(model.Offer(
            id=oid, workspace=ws.id, name=f"{vertical} offer {i}",
            url=f"https://go.{vertical}.example.net/o/{i}?aff=77&sub={{clickid}}&geo={{country}}",
            network=ws.networks[i % len(ws.networks)],
            payout=f"{rng.randint(1, 40)}.{rng.randrange(100):02d}",
            daily_cap=200 if capped else None,
            fallback_offer=ws.offers[i - 1] if capped else None,
        ))
    for i in range(LANDERS_PER_WORKSPACE):
        lid, ctas = f"{ws.id}-lp{i:02d}", 1 + (i % 5 == 0)
        ws.landers.append((lid, ctas))
        out["landers"].append(model.Lander(
            id=lid, workspace=ws.id, name=f"Lander {i}", cta_count=ctas,
            url=f"https://lp{i}.{ws.id}.example.com/?cid={{clickid}}&c={{country}}",
        ))
    singles = [lid for lid, ctas in ws.landers if ctas == 1]
    for fid in ws.funnels:
        out["funnels"].append(model.Funnel(
            id=fid, workspace=ws.id, name=f"Funnel {fid}", landers=tuple(rng.sample(singles, 2)),
            offers=(rng.choice(ws.offers),)))
    return out


def generate(campaigns: int, seed: int = 1, workspaces: int = WORKSPACES) -> model.Graph:
    rng = random.Random(seed)
    spaces = [_Workspace(i) for i in range(workspaces)]
    sections: dict[str, list[model.Entity]] = {name: [] for name, _ in model.SECTIONS}
    for ws in spaces:
        for name, entities in _shared(rng, ws).items():
            sections[name] += entities
    # A few big workspaces and a tail of small ones, as in a real agency.
    shares = [1 / (i + 1) for i in range(workspaces)]
    owners = rng.choices(spaces, weights=shares, k=campaigns)
    sections["campaigns"] = [_campaign(rng, ws, i) for i, ws in enumerate(owners)]
    return model.Graph(**{name: tuple(entities) for name, entities in sections.items()})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--campaigns", type=int, default=10_000)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--format", choices=FORMATS, default="yaml")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    graph = generate(args.campaigns, args.seed)
    args.out.write_text(dump_graph(graph, args.format), encoding="utf-8")
    size = args.out.stat().st_size
    print(f"{args.out}: {len(graph.campaigns)} campaigns, {len(graph.offers)} offers, "
          f"{len(graph.landers)} landers, {size / 1e6:.1f} MB", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
