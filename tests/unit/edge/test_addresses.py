from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from turnout.edge.addresses import ProxyTrust, anonymise, parse_address

TRUST = ProxyTrust([ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("::1/128"),
                    ipaddress.ip_network("127.0.0.1/32")])


@pytest.mark.parametrize(("peer", "xff", "client"), [
    # An untrusted peer's header is ignored: anyone can write one.
    ("203.0.113.9", "214.78.0.1", "203.0.113.9"),
    ("127.0.0.1", None, "127.0.0.1"),
    ("127.0.0.1", "214.78.0.1", "214.78.0.1"),
    # The right-most address that is not one of our proxies is the client; what the client
    # wrote to the left of it is not believed.
    ("127.0.0.1", "1.2.3.4, 214.78.0.1", "214.78.0.1"),
    ("127.0.0.1", "1.2.3.4, 214.78.0.1, 10.1.2.3", "214.78.0.1"),
    ("10.0.0.5", "8.8.8.8,10.0.0.7,10.0.0.6", "8.8.8.8"),
    # Only trusted hops: the left-most of them.
    ("127.0.0.1", "10.0.0.9, 10.0.0.8", "10.0.0.9"),
    # Garbage where the client should be: the nearest address we can vouch for.
    ("127.0.0.1", "evil, 10.0.0.8", "10.0.0.8"),
    ("127.0.0.1", "<script>", "127.0.0.1"),
    ("127.0.0.1", "", "127.0.0.1"),
    # Ports and brackets, IPv6, IPv4-mapped IPv6.
    ("127.0.0.1", "214.78.0.1:5555", "214.78.0.1"),
    ("127.0.0.1", "[2a02:d0c0::1]:443", "2a02:d0c0::1"),
    ("::1", "2001:218::1", "2001:218::1"),
    ("127.0.0.1", "::ffff:89.160.20.113", "89.160.20.113"),
])
def test_client_address(peer, xff, client):
    assert TRUST.client(peer, xff) == client


def test_no_trusted_proxies_means_peer_always():
    assert ProxyTrust([]).client("127.0.0.1", "214.78.0.1") == "127.0.0.1"


@pytest.mark.parametrize(("text", "anon"), [
    ("214.78.0.1", "214.78.0.0"),
    ("89.160.20.113", "89.160.20.0"),
    ("2a02:d0c0:1234:5678::1", "2a02:d0c0:1234::"),
    ("2001:218::1", "2001:218::"),
])
def test_anonymise(text, anon):
    assert anonymise(ipaddress.ip_address(text)) == anon


@settings(deadline=None)  # a loaded CI box must not fail a parser property
@given(st.ip_addresses())
def test_anonymised_address_is_its_own_prefix(address):
    anon = ipaddress.ip_address(anonymise(address))
    prefix = 24 if address.version == 4 else 48
    network = ipaddress.ip_network(f"{address}/{prefix}", strict=False)
    assert anon == network.network_address


@pytest.mark.parametrize("text", ["", "1.2.3", "1.2.3.4.5", "x" * 100, "[::1", "::g"])
def test_parse_address_rejects(text):
    assert parse_address(text) is None
