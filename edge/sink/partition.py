"""Kafka's default partitioner (murmur2 of the key, as the Java client), for many keys at once.

The sink builds its own record batches, so it picks partitions itself. It must pick the
ones the Java client and aiokafka's DefaultPartitioner would: one click id always lands on
one partition, whichever producer sent it. aiokafka's `murmur2` is pure Python and costs
several microseconds per key; a batch of keys of one length (click ids all have the same)
is hashed column by column with numpy instead, where uint32 arithmetic wraps like Java's.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import Final

import numpy as np

_SEED: Final = 0x9747B28C
_M: Final = 0x5BD1E995
_MASK: Final = 0xFFFFFFFF
_M32: Final = np.uint32(_M)
_WORDS: Final = [struct.Struct(f"<{n}I") for n in range(65)]
# Below this many keys of one length, numpy's per-call overhead costs more than it saves.
VECTOR_MIN: Final = 16


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


def murmur2_same_length(keys: Sequence[bytes], length: int) -> np.ndarray:
    """murmur2 of keys that all have `length` bytes, as a uint32 array."""
    raw = np.frombuffer(b"".join(keys), dtype=np.uint8).reshape(len(keys), length)
    h = np.full(len(keys), _SEED ^ length, dtype=np.uint32)
    n4 = length >> 2
    if n4:
        # Every word's own mixing at once; only the chaining into h is word by word.
        k = np.ascontiguousarray(raw[:, : n4 * 4]).view("<u4") * _M32
        k ^= k >> np.uint32(24)
        k *= _M32
        for i in range(n4):
            h *= _M32
            h ^= k[:, i]
    tail = length & 3
    if tail:
        base = n4 * 4
        if tail == 3:
            h ^= raw[:, base + 2].astype(np.uint32) << np.uint32(16)
        if tail >= 2:
            h ^= raw[:, base + 1].astype(np.uint32) << np.uint32(8)
        h ^= raw[:, base].astype(np.uint32)
        h *= _M32
    h ^= h >> np.uint32(13)
    h *= _M32
    h ^= h >> np.uint32(15)
    return h


def _vector_partitions(keys: Sequence[bytes], length: int, count: int) -> list[int]:
    hashes = murmur2_same_length(keys, length) & np.uint32(0x7FFFFFFF)
    return (hashes % np.uint32(count)).tolist()


def partitions_of(keys: Sequence[bytes], count: int) -> list[int]:
    """The partition index (0..count-1) of each key, as the Java client's default partitioner.

    Index i means the i-th partition id in sorted order, as aiokafka's DefaultPartitioner.
    """
    if count == 1:
        return [0] * len(keys)
    if len(keys) >= VECTOR_MIN and len(lengths := {len(key) for key in keys}) == 1:
        return _vector_partitions(keys, lengths.pop(), count)  # click ids: one length
    by_length: dict[int, list[int]] = {}
    for index, key in enumerate(keys):
        by_length.setdefault(len(key), []).append(index)
    out = [0] * len(keys)
    for length, indexes in by_length.items():
        if len(indexes) < VECTOR_MIN:
            for index in indexes:
                out[index] = (murmur2(keys[index]) & 0x7FFFFFFF) % count
            continue
        group = [keys[i] for i in indexes]
        for index, partition in zip(indexes, _vector_partitions(group, length, count),
                                    strict=True):
            out[index] = partition
    return out
