"""The graph <-> rows mapping against a real PostgreSQL: import, read, single-entity
writes, revisions and archiving."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import msgspec
import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from benchmarks.big_graph import generate
from tests.integration.control_support import control_database
from turnout.config import examples, model
from turnout.config.io import load_graph
from turnout.config.validate import validate
from turnout.control.graph_read import read_entity, read_graph
from turnout.control.graph_rows import KINDS
from turnout.control.graph_write import (
    RowsRefused,
    StaleRevision,
    archive_campaign,
    delete_entity,
    import_graph,
    upsert_entity,
)
from turnout.control.merge import Changes

EXAMPLE = load_graph(examples.GRAPH)


@pytest.fixture
async def conn(postgres_url: str) -> AsyncIterator[psycopg.AsyncConnection]:
    async with await psycopg.AsyncConnection.connect(control_database(postgres_url)) as c:
        yield c


def _ids(graph: model.Graph) -> dict[str, list[str]]:
    return {kind: sorted(e.id for e in getattr(graph, kind)) for kind in KINDS
            if getattr(graph, kind)}


def expected_changes(old: model.Graph, new: model.Graph) -> dict[str, dict[str, list[str]]]:
    """What changed from `old` to `new`, entity by entity, by the model's equality."""
    out: dict[str, dict[str, list[str]]] = {"created": {}, "updated": {}, "deleted": {}}
    for kind in KINDS:
        before = {e.id: e for e in getattr(old, kind)}
        after = {e.id: e for e in getattr(new, kind)}
        for name, ids in (("created", after.keys() - before.keys()),
                          ("deleted", before.keys() - after.keys()),
                          ("updated", {i for i in after.keys() & before.keys()
                                       if after[i] != before[i]})):
            if ids:
                out[name][kind] = sorted(ids)
    return out


def reported(changes: Changes) -> dict[str, dict[str, list[str]]]:
    return {name: {k: v for k, v in getattr(changes, name).items() if v}
            for name in ("created", "updated", "deleted")}


async def test_the_example_graph_round_trips_exactly(conn) -> None:
    changes = await import_graph(conn, EXAMPLE)
    assert changes.ids() == _ids(EXAMPLE)
    assert changes.created == {k: v for k, v in _ids(EXAMPLE).items()}
    assert await read_graph(conn) == EXAMPLE
    assert not await import_graph(conn, EXAMPLE)  # nothing changed, nothing written


@pytest.mark.parametrize("budget", [
    "120.50",  # a bare amount stays a bare amount
    model.Budget(amount="80.00", period="daily"),
    model.Budget(amount="5000.00", thresholds=(model.BudgetThreshold(at=50),
                                               model.BudgetThreshold(at=90, action="pause"),
                                               model.BudgetThreshold(at=100,
                                                                     action="complete"))),
])
async def test_budgets_and_caps_round_trip_exactly(conn, budget: str | model.Budget) -> None:
    campaigns = list(EXAMPLE.campaigns)
    campaigns[0] = msgspec.structs.replace(campaigns[0], budget=budget, daily_click_cap=1000,
                                           daily_conversion_cap=25)
    offers = [msgspec.structs.replace(o, daily_click_cap=None) if o.id == "vpn-us" else o
              for o in EXAMPLE.offers]
    offers = [msgspec.structs.replace(o, daily_click_cap=70) if o.id == "antivirus" else o
              for o in offers]
    graph = msgspec.structs.replace(EXAMPLE, campaigns=tuple(campaigns), offers=tuple(offers))
    await import_graph(conn, graph)
    back = await read_graph(conn)
    assert back == graph
    stored = {c.id: c for c in back.campaigns}[campaigns[0].id]
    assert stored.budget == budget and type(stored.budget) is type(budget)
    assert (stored.daily_click_cap, stored.daily_conversion_cap) == (1000, 25)
    by_id = {o.id: o for o in back.offers}
    assert (by_id["vpn-us"].daily_cap, by_id["vpn-us"].daily_click_cap) == (200, None)
    assert (by_id["antivirus"].daily_click_cap, by_id["antivirus"].daily_cap) == (70, None)


async def test_a_generated_graph_round_trips_exactly(conn) -> None:
    graph = generate(200)
    assert validate(graph) == []
    await import_graph(conn, graph)
    await conn.commit()
    assert await read_graph(conn) == graph
    # One workspace's part only.
    assert await read_graph(conn, ["ws01"]) == model.Graph(**{
        kind: tuple(e for e in getattr(graph, kind)
                    if getattr(e, "workspace", e.id) == "ws01") for kind in KINDS})


def _change_example() -> model.Graph:
    """The example with one entity of most kinds changed, one removed, one added."""
    g = EXAMPLE
    summer = next(c for c in g.campaigns if c.id == "summer")
    rule = summer.rules[1]
    summer = msgspec.structs.replace(summer, rules=(
        summer.rules[0],
        msgspec.structs.replace(rule, destinations=(
            msgspec.structs.replace(rule.destinations[0], weight=71), *rule.destinations[1:])),
        *summer.rules[2:]))
    offers = tuple(msgspec.structs.replace(o, payout="9.99") if o.id == "antivirus" else o
                   for o in g.offers)
    stories = next(c for c in g.campaigns if c.id == "summer-stories")
    new = msgspec.structs.replace(stories, id="winter", code="WINTER_01", parent=None,
                                  name="Winter")
    workspaces = (msgspec.structs.replace(g.workspaces[0], domains=("track.acme.example",)),)
    return msgspec.structs.replace(
        g, workspaces=workspaces, offers=offers,
        campaigns=(*(summer if c.id == "summer" else c for c in g.campaigns
                     if c.id != "camp-a"), new),
    )


async def test_importing_a_changed_graph_reports_exactly_what_changed(conn) -> None:
    await import_graph(conn, EXAMPLE)
    changed = _change_example()
    assert validate(changed) == []
    changes = await import_graph(conn, changed)
    assert reported(changes) == expected_changes(EXAMPLE, changed) == {
        "created": {"campaigns": ["winter"]},
        "updated": {"campaigns": ["summer"], "offers": ["antivirus"], "workspaces": ["acme"]},
        "deleted": {"campaigns": ["camp-a"]},
    }
    assert await read_graph(conn) == changed
    assert changes.revisions["campaigns"] == {"summer": 2, "winter": 1}
    cursor = await conn.execute("SELECT id, revision FROM offers ORDER BY id")
    assert dict(await cursor.fetchall()) == {
        "antivirus": 2, "cleaner-app": 1, "dating-ru": 1, "vpn-global": 1, "vpn-us": 1}


@settings(max_examples=20, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(first=st.tuples(st.integers(0, 30), st.integers(0, 10_000), st.integers(1, 4)),
       second=st.tuples(st.integers(0, 30), st.integers(0, 10_000), st.integers(1, 4)))
async def test_importing_any_graph_over_any_other_gives_it_and_reports_the_difference(
        conn, first, second) -> None:
    old, new = (generate(n, seed, workspaces) for n, seed, workspaces in (first, second))
    await import_graph(conn, model.Graph())
    await import_graph(conn, old)
    assert await read_graph(conn) == old
    changes = await import_graph(conn, new)
    assert reported(changes) == expected_changes(old, new)
    back = await read_graph(conn)
    # Entities kept from `old` keep their place; compare each section by id.
    for kind in KINDS:
        assert sorted(getattr(back, kind), key=lambda e: e.id) == \
            sorted(getattr(new, kind), key=lambda e: e.id), kind
    await conn.rollback()


async def test_one_entity_is_written_with_a_new_revision_and_a_stale_write_is_refused(
        conn) -> None:
    await import_graph(conn, EXAMPLE)
    offer = next(o for o in EXAMPLE.offers if o.id == "vpn-us")
    assert await read_entity(conn, "offers", "vpn-us") == (offer, 1)
    paid = msgspec.structs.replace(offer, payout="13.00")
    assert await upsert_entity(conn, paid, expected=1) == 2
    assert await upsert_entity(conn, paid) == 2  # no change: no new revision
    with pytest.raises(StaleRevision) as stale:
        await upsert_entity(conn, msgspec.structs.replace(offer, payout="1"), expected=1)
    assert stale.value.current == 2
    assert await read_entity(conn, "offers", "vpn-us") == (paid, 2)
    # A campaign's parts are part of it: one weight is a new campaign revision.
    camp = next(c for c in EXAMPLE.campaigns if c.id == "camp-a")
    heavier = msgspec.structs.replace(camp, default=(
        msgspec.structs.replace(camp.default[0], weight=60), *camp.default[1:]))
    assert await upsert_entity(conn, heavier, expected=1) == 2
    assert await read_entity(conn, "campaigns", "camp-a") == (heavier, 2)
    graph = await read_graph(conn)
    assert [c.id for c in graph.campaigns] == [c.id for c in EXAMPLE.campaigns]  # order kept
    created = msgspec.structs.replace(camp, id="camp-b", code="CAMP_B")
    assert await upsert_entity(conn, created) == 1
    assert (await read_graph(conn)).campaigns[-1] == created


async def test_deleting_needs_nothing_to_reference_the_entity(conn) -> None:
    await import_graph(conn, EXAMPLE)
    with pytest.raises(RowsRefused) as refused:
        await delete_entity(conn, "offers", "antivirus")
    assert refused.value.constraint is not None and "fkey" in refused.value.constraint
    with pytest.raises(StaleRevision):
        await delete_entity(conn, "campaigns", "summer-stories", expected=7)
    assert await delete_entity(conn, "campaigns", "summer-stories", expected=1)
    assert not await delete_entity(conn, "campaigns", "summer-stories")
    for table in ("rules", "destinations", "conditions"):
        cursor = await conn.execute(
            f"SELECT count(*) FROM {table} WHERE campaign_id = 'summer-stories'")
        assert await cursor.fetchone() == (0,), table


async def test_an_archived_campaign_leaves_the_graph_but_keeps_its_code(conn) -> None:
    await import_graph(conn, EXAMPLE)
    stories = next(c for c in EXAMPLE.campaigns if c.id == "summer-stories")
    assert await archive_campaign(conn, "summer-stories") == 2
    assert await archive_campaign(conn, "summer-stories") == 2
    without = msgspec.structs.replace(
        EXAMPLE, campaigns=tuple(c for c in EXAMPLE.campaigns if c.id != stories.id))
    assert await read_graph(conn) == without
    assert await read_entity(conn, "campaigns", "summer-stories") is None
    # Importing the graph without it deletes nothing: archived is not absent.
    assert not await import_graph(conn, without)
    with pytest.raises(RowsRefused) as taken:
        await import_graph(conn, msgspec.structs.replace(without, campaigns=(
            *without.campaigns, msgspec.structs.replace(stories, id="other"))))
    assert taken.value.constraint == "campaigns_code_unique"
    # Importing it again brings it back.
    changes = await import_graph(conn, EXAMPLE)
    assert changes.updated == {"campaigns": ["summer-stories"]}
    assert await read_graph(conn) == EXAMPLE


async def test_codes_and_secrets_may_move_between_entities_in_one_import(conn) -> None:
    await import_graph(conn, EXAMPLE)
    a, summer = EXAMPLE.campaigns[0], EXAMPLE.campaigns[1]
    n1, n2 = EXAMPLE.networks
    swapped = msgspec.structs.replace(
        EXAMPLE,
        campaigns=(msgspec.structs.replace(a, code=summer.code),
                   msgspec.structs.replace(summer, code=a.code), *EXAMPLE.campaigns[2:]),
        networks=(msgspec.structs.replace(n1, secret=n2.secret),
                  msgspec.structs.replace(n2, secret=n1.secret)),
    )
    changes = await import_graph(conn, swapped)
    assert changes.updated == {"campaigns": ["camp-a", "summer"],
                               "networks": ["alpha-net", "beta-net"]}
    assert await read_graph(conn) == swapped


async def test_a_scoped_import_touches_its_workspaces_only(conn) -> None:
    graph = generate(30, seed=3, workspaces=3)
    await import_graph(conn, graph)
    mine = model.Graph(**{kind: tuple(e for e in getattr(graph, kind)
                                     if getattr(e, "workspace", e.id) == "ws01")
                          for kind in KINDS})
    emptied = msgspec.structs.replace(mine, campaigns=())
    changes = await import_graph(conn, emptied, workspace_ids=["ws01"])
    assert changes.ids() == {"campaigns": sorted(c.id for c in mine.campaigns)}
    assert await read_graph(conn, ["ws00", "ws02"]) == model.Graph(**{
        kind: tuple(e for e in getattr(graph, kind)
                    if getattr(e, "workspace", e.id) != "ws01") for kind in KINDS})
    with pytest.raises(RowsRefused, match="outside the import"):
        await import_graph(conn, graph, workspace_ids=["ws01"])


async def test_a_workspace_time_zone_moves_its_local_schedules(conn) -> None:
    await import_graph(conn, EXAMPLE)
    cursor = await conn.execute("SELECT starts_at FROM campaigns WHERE id = 'summer'")
    (berlin,) = await cursor.fetchone()
    workspace = msgspec.structs.replace(EXAMPLE.workspaces[0], timezone="America/New_York")
    await upsert_entity(conn, workspace)
    cursor = await conn.execute(
        "SELECT starts_at, revision FROM campaigns WHERE id = 'summer'")
    new_york, revision = await cursor.fetchone()
    assert (new_york - berlin).total_seconds() == 6 * 3600 and revision == 2


@pytest.mark.parametrize(("change", "constraint"), [
    # Caught by the schema while the parts are written, and at the end (deferred).
    (lambda d: msgspec.structs.replace(d, weight=-1), "destinations_weight"),
    (lambda d: msgspec.structs.replace(d, ref="no-such-lander"), "destinations_lander_fkey"),
])
async def test_an_invalid_graph_is_refused_whole_by_the_schema(conn, change, constraint) -> None:
    await import_graph(conn, EXAMPLE)
    camp = EXAMPLE.campaigns[0]
    bad = msgspec.structs.replace(camp, name="renamed", default=(
        change(camp.default[0]), *camp.default[1:]))
    graph = msgspec.structs.replace(EXAMPLE, campaigns=(bad, *EXAMPLE.campaigns[1:]))
    assert validate(graph) != []
    with pytest.raises(RowsRefused) as refused:
        await import_graph(conn, graph)
    assert refused.value.constraint == constraint
    assert await read_graph(conn) == EXAMPLE  # nothing of it was kept


async def test_concurrent_imports_do_not_interleave(postgres_url: str) -> None:
    url = control_database(postgres_url)
    first, second = generate(20, seed=1, workspaces=3), generate(20, seed=2, workspaces=2)

    async def run(graph: model.Graph, before: float, hold: float) -> None:
        async with await psycopg.AsyncConnection.connect(url) as conn:
            await asyncio.sleep(before)
            async with conn.transaction():
                await import_graph(conn, graph)
                await asyncio.sleep(hold)  # still uncommitted: the other import must wait

    await asyncio.gather(run(first, 0, 0.5), run(second, 0.1, 0))
    async with await psycopg.AsyncConnection.connect(url) as conn:
        back = await read_graph(conn)
    for kind in KINDS:  # the second import saw the first one's graph and replaced it
        assert sorted(getattr(back, kind), key=lambda e: e.id) == \
            sorted(getattr(second, kind), key=lambda e: e.id), kind
