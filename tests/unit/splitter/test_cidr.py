"""The CIDR index against testing every block: same answer for any blocks and address."""

from __future__ import annotations

import ipaddress

from hypothesis import given, settings
from hypothesis import strategies as st

from turnout.splitter.cidr import CidrIndex


def _network(version: int, value: int, prefix: int):
    kind = ipaddress.IPv4Network if version == 4 else ipaddress.IPv6Network
    return kind((value, prefix), strict=False)  # host bits dropped: a network


def _networks(version: int) -> st.SearchStrategy:
    bits = 32 if version == 4 else 128
    # Values near a few anchors, so blocks overlap, nest and touch far more often than
    # uniformly random ones would; the edges (/0, /bits) are always possible.
    anchors = st.sampled_from([0, 1 << (bits - 1), (1 << bits) - 1, 0x0A000000 << (bits - 32)])
    value = st.one_of(
        st.integers(0, (1 << bits) - 1),
        st.builds(lambda a, d: min(max(a + d, 0), (1 << bits) - 1), anchors,
                  st.integers(-(1 << 12), 1 << 12)),
    )
    prefix = st.one_of(st.integers(0, bits), st.sampled_from([0, 1, bits - 1, bits]))
    return st.builds(lambda v, p: _network(version, v, p), value, prefix)


def _addresses(version: int) -> st.SearchStrategy:
    bits = 32 if version == 4 else 128
    edges = st.sampled_from([0, 1, (1 << bits) - 1, (1 << bits) - 2, 1 << (bits - 1),
                             (1 << (bits - 1)) - 1, 0x0A000000 << (bits - 32)])
    return st.builds(ipaddress.IPv4Address if version == 4 else ipaddress.IPv6Address,
                     st.one_of(st.integers(0, (1 << bits) - 1), edges))


_BLOCKS = st.lists(st.one_of(_networks(4), _networks(6)), max_size=25)


def _linear(blocks, address) -> bool:
    return any(address.version == block.version and address in block for block in blocks)


@settings(max_examples=500)
@given(_BLOCKS, st.lists(st.one_of(_addresses(4), _addresses(6)), max_size=20))
def test_same_answer_as_testing_every_block(blocks, addresses):
    index = CidrIndex(blocks)
    for address in addresses:
        assert index.contains(address.version, int(address)) == _linear(blocks, address)
        assert (address in index) == _linear(blocks, address)


@settings(max_examples=300)
@given(_BLOCKS)
def test_the_edges_of_every_block(blocks):
    index = CidrIndex(blocks)
    for block in blocks:
        for address in (block.network_address, block.broadcast_address):
            assert address in index
        for outside in (int(block.network_address) - 1, int(block.broadcast_address) + 1):
            if 0 <= outside < (1 << block.max_prefixlen):
                address = ipaddress.ip_address(outside) if block.version == 4 \
                    else ipaddress.IPv6Address(outside)
                assert (address in index) == _linear(blocks, address)


def test_examples():
    index = CidrIndex(ipaddress.ip_network(text) for text in (
        "10.0.0.0/8", "10.1.0.0/16", "192.168.1.0/24", "192.168.2.0/24", "2001:db8::/32",
        "203.0.113.7/32"))
    assert ipaddress.ip_address("10.200.0.1") in index
    assert ipaddress.ip_address("192.168.2.255") in index
    assert ipaddress.ip_address("192.168.3.0") not in index
    assert ipaddress.ip_address("203.0.113.7") in index
    assert ipaddress.ip_address("203.0.113.8") not in index
    assert ipaddress.ip_address("2001:db8:1::1") in index
    # Versions never mix: ::a00:1 has the integer value of 10.0.0.1.
    assert ipaddress.ip_address("::a00:1") not in index
    assert len(index) == 6 and index
    assert not CidrIndex() and ipaddress.ip_address("0.0.0.0") not in CidrIndex()
    everything = CidrIndex([ipaddress.ip_network("0.0.0.0/0"), ipaddress.ip_network("::/0")])
    assert ipaddress.ip_address("255.255.255.255") in everything
    assert ipaddress.ip_address("::") in everything
