"""Client addresses: which one to believe (trusted proxies) and how to store it (anonymised).

X-Forwarded-For is a list every proxy appends to, so only its right end is trustworthy:
walking from the right, addresses of our own trusted proxies are skipped and the first
other address is the client. Anything further left was written by the client itself.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from functools import lru_cache

from turnout.splitter.cidr import CidrIndex

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_address(text: str) -> IPAddress | None:
    """An address from an X-Forwarded-For entry or peer: ports and brackets tolerated."""
    text = text.strip()
    if not text or len(text) > 64:
        return None
    if text.startswith("["):  # [v6]:port
        text = text[1 : text.find("]")] if "]" in text else ""
    elif text.count(":") == 1:  # v4:port
        text = text.partition(":")[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def anonymise(address: IPAddress) -> str:
    """IPv4 keeps its /24, IPv6 its /48: enough for geo and fraud ranges, not a person."""
    if address.version == 4:
        return str(ipaddress.IPv4Address(int(address) & 0xFFFFFF00))
    return str(ipaddress.IPv6Address(int(address) & ~((1 << 80) - 1) & ((1 << 128) - 1)))


class ProxyTrust:
    """Decides the client address of a request from its peer and X-Forwarded-For."""

    def __init__(self, trusted: Sequence[IPNetwork], cache_size: int = 4096) -> None:
        self._trusted = CidrIndex(trusted)
        self.is_trusted = lru_cache(maxsize=cache_size)(self._is_trusted)
        # Behind a proxy the same few (peer, header) pairs repeat for every click of a visitor.
        self._forwarded = lru_cache(maxsize=cache_size)(self._walk)

    def _is_trusted(self, text: str) -> bool:
        address = parse_address(text)
        return address is not None and self._trusted.contains(address.version, int(address))

    def client(self, peer: str, forwarded_for: str | None) -> str:
        """The client address as text (unparsed when it is the peer itself)."""
        if not forwarded_for or not self._trusted or not self.is_trusted(peer):
            return peer
        return self._forwarded(peer, forwarded_for)

    def _walk(self, peer: str, forwarded_for: str) -> str:
        hops = forwarded_for.split(",")
        nearest = peer
        for hop in reversed(hops):
            address = parse_address(hop)
            if address is None:
                # Garbage where an address should be: the last address we could vouch for
                # is the best we know.
                return nearest
            text = str(address)
            if not self._trusted.contains(address.version, int(address)):
                return text
            nearest = text
        return nearest
