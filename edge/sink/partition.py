"""Kafka's default partitioner (murmur2 of the key, as the Java client), for many keys at once.

The sink builds its own record batches, so it picks partitions itself. It must pick the
ones the Java client and aiokafka's DefaultPartitioner would: one click id always lands on
one partition, whichever producer sent it. aiokafka's `murmur2` is pure Python and costs
several microseconds per key, so a batch's keys are hashed in C (`edge/sink/_murmur2.c`);
`murmur2` here is the reference, and the fallback where the C module is not built.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import Final

_SEED: Final = 0x9747B28C
_M: Final = 0x5BD1E995
_MASK: Final = 0xFFFFFFFF
_WORDS: Final = [struct.Struct(f"<{n}I") for n in range(65)]


def murmur2(data: bytes) -> int:
    """MurmurHash2 as in org.apache.kafka.common.utils.Utils.murmur2 (unsigned)."""
    length = len(data)
    h = _SEED ^ length
    n4 = length >> 2
    words = _WORDS[n4] if n4 < len(_WORDS) else struct.Struct(f"<{n4}I")
    for k in words.unpack_from(data):
        k = (k * _M) & _MASK
        k ^= k >> 24
        h = ((h * _M) & _MASK) ^ ((k * _M) & _MASK)
    tail = length & 3
    if tail:
        base = length - tail
        if tail == 3:
            h ^= data[base + 2] << 16
        if tail >= 2:
            h ^= data[base + 1] << 8
        h = ((h ^ data[base]) * _M) & _MASK
    h ^= h >> 13
    h = (h * _M) & _MASK
    return h ^ (h >> 15)


def partitions_py(keys: Sequence[bytes], count: int) -> list[int]:
    """The partition index (0..count-1) of each key, as the Java client's default partitioner.

    Index i means the i-th partition id in sorted order, as aiokafka's DefaultPartitioner.
    """
    if count < 1:
        raise ValueError("partitions() needs a count of at least 1")
    return [(murmur2(key) & 0x7FFFFFFF) % count for key in keys]


try:
    from turnout.edge.sink import _murmur2
except ImportError:  # not compiled: tests/unit/edge_sink/test_partition.py fails unless allowed
    _murmur2 = None  # type: ignore[assignment]

partitions_c = None if _murmur2 is None else _murmur2.partitions  # same results, in C
partitions_of = partitions_py if partitions_c is None else partitions_c
