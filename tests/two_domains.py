"""A graph of three customers who all named a campaign SUMMER: `a` and `b` on tracking
domains of their own, `c` (no domains) on the default domain. For the unit and the
integration tests of tracking domains (SPEC §4)."""

from __future__ import annotations

from turnout.config.model import (
    Campaign,
    Destination,
    Graph,
    Lander,
    Network,
    Offer,
    TrafficSource,
    Workspace,
)

CODE = "SUMMER"
DOMAINS = {"a": "track.a.example", "b": "track.b.example"}


def _customer(ws: str, suffix: str, domains: tuple[str, ...], payout: str
              ) -> dict[str, tuple[object, ...]]:
    workspace = f"{ws}{suffix}"
    return {
        "workspaces": (Workspace(id=workspace, name=f"Customer {ws}", currency="EUR",
                                 fallback_url=f"https://www.{ws}.example/nothing-here",
                                 domains=domains),),
        "traffic_sources": (TrafficSource(id=f"src-{workspace}", workspace=workspace,
                                          name="Source", tokens={"sub1": "zone"}),),
        "networks": (Network(id=f"net-{workspace}", workspace=workspace, name="Network",
                             secret=f"secret-of-{workspace}-network"),),
        "offers": (Offer(id=f"offer-{workspace}", workspace=workspace, name="Offer",
                         url=f"https://shop.{ws}.example/buy?c={{clickid}}&z={{sub1}}",
                         network=f"net-{workspace}", payout=payout),),
        "landers": (Lander(id=f"lp-{workspace}", workspace=workspace, name="Lander",
                           url=f"https://lp.{ws}.example/?c={{clickid}}"),),
        "campaigns": (
            Campaign(id=f"summer-{workspace}", workspace=workspace, name="Summer",
                     code=CODE, traffic_source=f"src-{workspace}", status="active",
                     default=(Destination(id="offer", kind="offer", ref=f"offer-{workspace}"),)),
            Campaign(id=f"lander-{workspace}", workspace=workspace, name="Via a lander",
                     code="VIA_LANDER", traffic_source=f"src-{workspace}", status="active",
                     default=(Destination(id="lp", kind="lander", ref=f"lp-{workspace}",
                                          offers=(f"offer-{workspace}",)),)),
        ),
    }


def two_domain_graph(suffix: str = "") -> Graph:
    """Workspaces `a{suffix}` (track.a.example, written in upper case with a trailing dot
    to be normalised), `b{suffix}` (track.b.example) and `c{suffix}` (no domains); each has
    campaigns SUMMER (straight to its offer) and VIA_LANDER."""
    parts = (_customer("a", suffix, ("TRACK.A.example.",), "10.00"),
             _customer("b", suffix, (DOMAINS["b"],), "7.00"),
             _customer("c", suffix, (), "3.00"))
    sections = {name: tuple(item for part in parts for item in part[name]) for name in parts[0]}
    return Graph(**sections)  # type: ignore[arg-type]
