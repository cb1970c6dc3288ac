"""GeoIP (MaxMind City + ASN databases) and address facts, cached per address text."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import maxminddb

from turnout.edge.addresses import IPNetwork, anonymise, parse_address
from turnout.splitter.cidr import CidrIndex


@dataclass(frozen=True, slots=True)
class Place:
    """What the edge knows about one client address."""

    ip: int
    version: int
    text: str  # canonical full address
    anonymised: str
    country: str = ""
    region: str = ""  # "US-CA": country and first subdivision
    city: str = ""
    asn: int = 0
    bot_range: bool = False  # inside the edge's global bot ranges


class GeoIP:
    def __init__(self, city_db: Path, asn_db: Path | None,
                 bot_ranges: tuple[IPNetwork, ...] = (), cache_size: int = 65536) -> None:
        mode = maxminddb.MODE_MMAP_EXT
        self._city = maxminddb.open_database(str(city_db), mode)
        self._asn = None if asn_db is None else maxminddb.open_database(str(asn_db), mode)
        self._bots = CidrIndex(bot_ranges)
        self.place = lru_cache(maxsize=cache_size)(self._place)

    def close(self) -> None:
        self._city.close()
        if self._asn is not None:
            self._asn.close()

    def _place(self, text: str) -> Place | None:
        address = parse_address(text)
        if address is None:
            return None
        value = int(address)
        country = region = city = ""
        asn = 0
        record: Any = _get(self._city, address)
        if isinstance(record, dict):
            country = (record.get("country") or record.get("registered_country") or {}).get(
                "iso_code", ""
            )
            subdivisions = record.get("subdivisions") or ()
            if subdivisions and country:
                code = subdivisions[0].get("iso_code", "")
                region = f"{country}-{code}" if code else ""
            city = ((record.get("city") or {}).get("names") or {}).get("en", "")
        if self._asn is not None:
            asn_record: Any = _get(self._asn, address)
            if isinstance(asn_record, dict):
                asn = int(asn_record.get("autonomous_system_number") or 0)
        return Place(
            ip=value,
            version=address.version,
            text=str(address),
            anonymised=anonymise(address),
            country=country,
            region=region,
            city=city,
            asn=asn,
            bot_range=self._bots.contains(address.version, value),
        )


def _get(reader: maxminddb.Reader, address: ipaddress.IPv4Address | ipaddress.IPv6Address
         ) -> object:
    try:
        return reader.get(address)
    except ValueError:  # an IPv6 address in an IPv4-only database
        return None
