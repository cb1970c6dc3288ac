from __future__ import annotations

from tests.unit.ingest.test_records import a_click
from turnout.ingest.stored import BUCKET_MS, StoredIds


def test_clicks_above_their_workspace_floor_are_new_the_rest_unsure() -> None:
    stored = StoredIds(100)
    clicks = [a_click("A", ts_ms=100), a_click("B", ts_ms=101),
              a_click("C", ts_ms=50, workspace_id="x")]
    assert stored.missing_floors(clicks) == {"w", "x"}
    stored.set_floors({"w": 100, "x": 10}, stored.generation)
    assert stored.missing_floors(clicks) == set()
    assert [c.click_id for c in stored.unsure(clicks)] == ["A"]  # ts == floor: may be stored
    # Floors just read for this batch count as well; a workspace with none is unsure.
    other = a_click("D", ts_ms=500, workspace_id="y")
    assert stored.unsure([other]) == [other]
    assert stored.unsure([other], {"y": 499}) == []


def test_a_rebalance_forgets_the_floors_and_floors_read_before_it_are_not_kept() -> None:
    stored = StoredIds(100)
    before = stored.generation
    stored.reset_floors()
    stored.set_floors({"w": 1}, before)  # read under the old assignment
    assert stored.missing_floors([a_click("A")]) == {"w"}
    stored.set_floors({"w": 1}, stored.generation)
    assert stored.missing_floors([a_click("A")]) == set()
    stored.reset_floors()
    assert stored.missing_floors([a_click("A")]) == {"w"}


def test_stored_ids_are_remembered_across_rebalances() -> None:
    stored = StoredIds(100)
    stored.add([a_click("A"), a_click("B"), a_click("A")])
    stored.reset_floors()
    assert "A" in stored and "B" in stored and "C" not in stored
    assert len(stored) == 2


def test_past_capacity_the_oldest_minutes_are_forgotten_and_become_unsure() -> None:
    stored = StoredIds(capacity=3)
    stored.set_floors({"w": 0}, stored.generation)
    old = [a_click(f"O{i}", ts_ms=BUCKET_MS + i) for i in range(2)]
    new = [a_click(f"N{i}", ts_ms=5 * BUCKET_MS + i) for i in range(2)]
    stored.add(old)
    assert stored.unsure([a_click("X", ts_ms=BUCKET_MS + 7)]) == []
    stored.add(new)
    assert len(stored) == 2 and "O0" not in stored and "N1" in stored
    # Anything from the forgotten minute or before may have been stored by this pipeline.
    late = a_click("O0", ts_ms=BUCKET_MS)
    before = a_click("Z", ts_ms=7)
    assert stored.unsure([late, before]) == [late, before]
    assert stored.unsure([a_click("Y", ts_ms=2 * BUCKET_MS)]) == []


def test_one_minute_is_never_split_even_past_capacity() -> None:
    stored = StoredIds(capacity=2)
    stored.add([a_click(f"N{i}", ts_ms=BUCKET_MS + i) for i in range(5)])
    assert len(stored) == 5
