from __future__ import annotations

from pathlib import Path

import msgspec

from turnout.config.diff import graph_diff
from turnout.config.io import load_graph
from turnout.config.model import Offer

EXAMPLE = load_graph(Path(__file__).parents[3] / "config" / "examples" / "graph.yaml")
replace = msgspec.structs.replace


def test_same_graph_has_no_changes():
    assert graph_diff(EXAMPLE, EXAMPLE) == []


def test_changes_are_named_by_id_path():
    camp_a = EXAMPLE.campaigns[0]
    usa = camp_a.rules[1]
    new_usa = replace(usa, destinations=(replace(usa.destinations[0], weight=70),
                                         usa.destinations[1]))
    new_offer = Offer(id="new", workspace="acme", name="New", url="https://n.example.com/",
                      network="beta-net")
    changed = replace(
        EXAMPLE,
        campaigns=(replace(camp_a, status="paused", rules=(camp_a.rules[0], new_usa)),
                   *EXAMPLE.campaigns[1:]),
        offers=(*EXAMPLE.offers[1:], new_offer),
        networks=(replace(EXAMPLE.networks[0], secret="rotated-secret-99"), EXAMPLE.networks[1]),
    )
    assert graph_diff(EXAMPLE, changed) == [
        "networks[alpha-net].secret: changed (secret)",
        "offers[vpn-us]: removed",
        "offers[new]: added",
        "campaigns[camp-a].status: 'active' -> 'paused'",
        "campaigns[camp-a].rules[usa].destinations[usa].weight: 50 -> 70",
    ]


def test_rule_order_and_values_changes():
    camp_a = EXAMPLE.campaigns[0]
    russia = camp_a.rules[0]
    condition = replace(russia.conditions[0], values=("RU", "BY"))
    changed = replace(EXAMPLE, campaigns=(
        replace(camp_a, rules=(camp_a.rules[1], replace(russia, conditions=(condition,)))),
        *EXAMPLE.campaigns[1:]))
    assert graph_diff(EXAMPLE, changed) == [
        'campaigns[camp-a].rules[russia].conditions[0].values: ["RU"] -> ["RU","BY"]',
        "campaigns[camp-a].rules: order ['russia', 'usa'] -> ['usa', 'russia']",
    ]


def test_mapping_changes():
    network = EXAMPLE.networks[1]
    statuses = {k: v for k, v in network.statuses.items() if k != "hold"} | {"paid": "approved"}
    changed = replace(EXAMPLE, networks=(EXAMPLE.networks[0],
                                         replace(network, statuses=statuses)))
    assert graph_diff(EXAMPLE, changed) == [
        "networks[beta-net].statuses.hold: removed",
        "networks[beta-net].statuses.paid: added 'approved'",
    ]
