"""The sink's partitioner (edge/sink/partition.py and its C twin, edge/sink/_murmur2.c)
against aiokafka's: the same murmur2 and the same partition for every key."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
from aiokafka.partitioner import DefaultPartitioner
from aiokafka.partitioner import murmur2 as aiokafka_murmur2
from hypothesis import given, settings
from hypothesis import strategies as st

from turnout.edge.sink import partition
from turnout.edge.sink.partition import murmur2, partitions_of, partitions_py

REQUIRED = os.environ.get("TURNOUT_REQUIRE_C", "1") != "0"
IMPLEMENTATIONS = [partitions_py] + ([] if partition.partitions_c is None
                                     else [partition.partitions_c])


def test_the_c_partitioner_is_built_current_and_in_use() -> None:
    if partition.partitions_c is None and not REQUIRED:
        assert partitions_of is partitions_py
        return
    assert partition.partitions_c is not None, "edge/sink/_murmur2.c is not built: pip install -e ."
    from turnout.edge.sink import _murmur2

    source = Path(partition.__file__).with_name("_murmur2.c").read_bytes()
    assert hashlib.sha256(source).hexdigest() == _murmur2.SOURCE_SHA256, (
        "edge/sink/_murmur2.c changed since it was built: pip install -e ."
    )
    assert partitions_of is partition.partitions_c


@given(st.binary(max_size=300))
@settings(max_examples=300)
def test_murmur2_is_kafkas(key: bytes) -> None:
    expected = aiokafka_murmur2(key)
    assert murmur2(key) == expected
    if partition._murmur2 is not None:
        assert partition._murmur2.murmur2(key) == expected


@pytest.mark.parametrize("partitions", IMPLEMENTATIONS)
@given(keys=st.lists(st.binary(max_size=40), max_size=200), count=st.integers(1, 12))
@settings(max_examples=200)
def test_partitions_match_the_default_partitioner(partitions, keys: list[bytes],
                                                  count: int) -> None:
    partitioner = DefaultPartitioner()
    ids = list(range(count))
    assert partitions(keys, count) == [partitioner(k, ids, ids) for k in keys]


@pytest.mark.parametrize("partitions", IMPLEMENTATIONS)
def test_click_ids_agree_and_bad_input_is_refused(partitions) -> None:
    keys = [f"01HZX3K4Q2V7M9N8P6R5S{i:05d}".encode() for i in range(64)] + [b"short", b""]
    partitioner = DefaultPartitioner()
    assert partitions(tuple(keys), 3) == [partitioner(k, [0, 1, 2], [0, 1, 2]) for k in keys]
    with pytest.raises(ValueError, match="at least 1"):
        partitions(keys, 0)
    with pytest.raises(TypeError):
        partitions([b"ok", "not bytes"], 2)  # type: ignore[list-item]
