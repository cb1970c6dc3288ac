from __future__ import annotations

from aiokafka.partitioner import DefaultPartitioner
from aiokafka.partitioner import murmur2 as aiokafka_murmur2
from hypothesis import given, settings
from hypothesis import strategies as st

from turnout.edge.sink.partition import VECTOR_MIN, murmur2, murmur2_same_length, partitions_of


@given(st.binary(max_size=300))
@settings(max_examples=300)
def test_murmur2_is_kafkas(key: bytes) -> None:
    assert murmur2(key) == aiokafka_murmur2(key)


@given(st.integers(0, 40), st.data())
@settings(max_examples=100)
def test_vectorised_murmur2_is_kafkas(length: int, data: st.DataObject) -> None:
    keys = data.draw(st.lists(st.binary(min_size=length, max_size=length), min_size=1,
                              max_size=40))
    assert murmur2_same_length(keys, length).tolist() == [aiokafka_murmur2(k) for k in keys]


@given(st.lists(st.binary(max_size=40), max_size=200), st.integers(1, 12))
@settings(max_examples=200)
def test_partitions_match_the_default_partitioner(keys: list[bytes], count: int) -> None:
    partitioner = DefaultPartitioner()
    ids = list(range(count))
    assert partitions_of(keys, count) == [partitioner(k, ids, ids) for k in keys]


def test_click_ids_take_the_vector_path_and_agree() -> None:
    keys = [f"01HZX3K4Q2V7M9N8P6R5S{i:05d}".encode() for i in range(VECTOR_MIN * 4)]
    keys += [b"short", b""]  # a second, small length group on the scalar path
    partitioner = DefaultPartitioner()
    assert partitions_of(keys, 3) == [partitioner(k, [0, 1, 2], [0, 1, 2]) for k in keys]


@given(st.integers(0, 40), st.integers(2, 12), st.data())
@settings(max_examples=100)
def test_a_batch_of_one_key_length_agrees(length: int, count: int, data: st.DataObject) -> None:
    # The whole-batch path (every click id has the same length), not the per-length one.
    keys = data.draw(st.lists(st.binary(min_size=length, max_size=length),
                              min_size=VECTOR_MIN, max_size=80))
    partitioner = DefaultPartitioner()
    ids = list(range(count))
    assert partitions_of(keys, count) == [partitioner(k, ids, ids) for k in keys]
