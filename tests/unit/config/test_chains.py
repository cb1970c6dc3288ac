from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from turnout.config.chains import cycles


def _reference(ids, parents):
    """Every entity's chain walked until it repeats: what validation did before."""
    by_id = {entity_id: parent for entity_id, parent in zip(ids, parents, strict=True)}
    found = {}
    for i, entity_id in enumerate(ids):
        chain = [entity_id]
        current = parents[i]
        while current is not None and current in by_id and current not in chain:
            chain.append(current)
            current = by_id[current]
        if current == entity_id:
            found[i] = [*chain, entity_id]
    return found


_NAMES = st.sampled_from("abcdefgh")


@given(st.lists(st.tuples(_NAMES, st.none() | _NAMES | st.just("zz")), max_size=14))
def test_same_cycles_as_walking_every_chain(entities):
    ids = [entity_id for entity_id, _ in entities]
    parents = [parent for _, parent in entities]
    assert cycles(ids, parents) == _reference(ids, parents)


def test_examples():
    assert cycles(["a", "b", "c"], ["b", "c", "a"]) == {
        0: ["a", "b", "c", "a"], 1: ["b", "c", "a", "b"], 2: ["c", "a", "b", "c"]}
    assert cycles(["a"], ["a"]) == {0: ["a", "a"]}
    assert cycles(["a", "b", "c"], ["b", "b", None]) == {1: ["b", "b"]}
    assert cycles(["a", "b", "a"], ["b", "a", None]) == {0: ["a", "b", "a"]}


def test_a_long_chain_into_a_loop():
    # 50,000 nested parents: walking each chain (the old way) took hours; here it is one
    # pass, and only the two entities of the loop at its end are reported.
    ids = [f"c{i}" for i in range(50_000)]
    parents = [*ids[1:], "c49998"]
    assert cycles(ids, parents) == {49_998: ["c49998", "c49999", "c49998"],
                                    49_999: ["c49999", "c49998", "c49999"]}
