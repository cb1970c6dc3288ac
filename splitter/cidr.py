"""Is an address in a set of CIDR blocks? One binary search, however many blocks.

The blocks are turned once into sorted, disjoint integer ranges per IP version
(overlapping, nested and adjacent blocks merged), so a look-up is a `bisect` over the
range starts and one comparison with the end of the range found: O(log n), where testing
every block was O(n) (5,000 bot ranges cost ~330 us per click that way).
"""

from __future__ import annotations

import ipaddress
from bisect import bisect_right
from collections.abc import Iterable

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_Ranges = tuple[list[int], list[int]]  # range starts, and the last address of each range


def _merged(blocks: list[tuple[int, int]]) -> _Ranges:
    starts: list[int] = []
    ends: list[int] = []
    for first, last in sorted(blocks):
        if ends and first <= ends[-1] + 1:  # overlaps or touches the previous range
            ends[-1] = max(ends[-1], last)
        else:
            starts.append(first)
            ends.append(last)
    return starts, ends


class CidrIndex:
    """Membership of integer addresses (`int(ipaddress.ip_address(...))`) in CIDR blocks.

    An IPv4 block only holds IPv4 addresses and an IPv6 block IPv6 ones, as with
    `address in network`; map IPv4-mapped IPv6 addresses to IPv4 before asking.
    """

    __slots__ = ("_v4", "_v6", "size")

    def __init__(self, networks: Iterable[IPNetwork] = ()) -> None:
        v4: list[tuple[int, int]] = []
        v6: list[tuple[int, int]] = []
        for network in networks:
            first = int(network.network_address)
            (v4 if network.version == 4 else v6).append(
                (first, first + network.num_addresses - 1)
            )
        self._v4 = _merged(v4)
        self._v6 = _merged(v6)
        self.size = len(v4) + len(v6)  # blocks given, before merging

    def contains(self, version: int, value: int) -> bool:
        starts, ends = self._v4 if version == 4 else self._v6
        i = bisect_right(starts, value)
        return i > 0 and value <= ends[i - 1]

    def __contains__(self, address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
        return self.contains(address.version, int(address))

    def __bool__(self) -> bool:
        return self.size > 0

    def __len__(self) -> int:
        return self.size

    def __repr__(self) -> str:
        return f"CidrIndex({len(self._v4[0])} IPv4 and {len(self._v6[0])} IPv6 ranges)"
