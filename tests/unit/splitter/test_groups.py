from __future__ import annotations

from importlib.resources import files

from turnout.splitter.groups import (
    EEA,
    EU,
    GROUPS,
    ISO_COUNTRIES,
    TIER1,
    expand,
    is_country_or_group,
)


def test_iso_list_matches_tzdata_table():
    # tzdata (a runtime dependency) ships the ISO 3166 table; our list is ISO's plus XK.
    table = files("tzdata").joinpath("zoneinfo/iso3166.tab").read_text()
    official = {line.split("\t")[0] for line in table.splitlines() if line and line[0] != "#"}
    assert len(official) == 249
    assert official | {"XK"} == ISO_COUNTRIES


def test_eu_has_27_members_and_no_uk():
    assert len(EU) == 27
    assert "GB" not in EU
    assert "GR" in EU and "EL" not in EU


def test_eea_is_eu_plus_three():
    assert {"IS", "LI", "NO"} == EEA - EU
    assert "CH" not in EEA


def test_group_members_are_valid_codes_and_names_are_not():
    for name, members in GROUPS.items():
        assert members <= ISO_COUNTRIES, name
        assert name not in ISO_COUNTRIES


def test_tier1_core():
    assert {"US", "GB", "CA", "AU", "NZ", "IE", "DE", "FR", "NL"} <= TIER1


def test_expand_is_case_insensitive_and_drops_unknown():
    assert expand(["dach", "us", "ZZ"]) == {"DE", "AT", "CH", "US"}
    assert is_country_or_group("nordics")
    assert not is_country_or_group("EUROPE")
