"""ISO 3166-1 alpha-2 country codes and the named groups a country condition may use.

Group names are upper-case and never collide with an assigned ISO code, so a country
condition value is unambiguously either a country or a group.
"""

from __future__ import annotations


def _codes(text: str) -> frozenset[str]:
    return frozenset(text.split())


# The 249 officially assigned ISO 3166-1 alpha-2 codes, plus XK (Kosovo): not assigned by
# ISO, but MaxMind and DB-IP report it, so a condition must be able to name it.
ISO_COUNTRIES: frozenset[str] = _codes(
    """
    AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ
    BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ
    CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ
    DE DJ DK DM DO DZ
    EC EE EG EH ER ES ET
    FI FJ FK FM FO FR
    GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY
    HK HM HN HR HT HU
    ID IE IL IM IN IO IQ IR IS IT
    JE JM JO JP
    KE KG KH KI KM KN KP KR KW KY KZ
    LA LB LC LI LK LR LS LT LU LV LY
    MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ
    NA NC NE NF NG NI NL NO NP NR NU NZ
    OM
    PA PE PF PG PH PK PL PM PN PR PS PT PW PY
    QA
    RE RO RS RU RW
    SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ
    TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ
    UA UG UM US UY UZ
    VA VC VE VG VI VN VU
    WF WS
    XK
    YE YT
    ZA ZM ZW
    """
)

# The 27 member states since 2020-02-01 (no GB). Greece is GR here: the EU's own "EL"
# is not an ISO code and GeoIP databases never report it.
EU: frozenset[str] = _codes(
    "AT BE BG HR CY CZ DK EE FI FR DE GR HU IE IT LV LT LU MT NL PL PT RO SK SI ES SE"
)

# European Economic Area: the EU plus Iceland, Liechtenstein and Norway (not Switzerland).
EEA: frozenset[str] = EU | {"IS", "LI", "NO"}

DACH: frozenset[str] = frozenset({"DE", "AT", "CH"})

# The five sovereign Nordic states; their autonomous territories (AX, FO, GL) have their
# own ISO codes and are left out, as most ad platforms' "Nordics" targeting does.
NORDICS: frozenset[str] = frozenset({"DK", "FI", "IS", "NO", "SE"})

# Spanish-, Portuguese- and French-speaking states of the Americas, plus Puerto Rico,
# which has its own code and is usually bought as part of Latin America.
LATAM: frozenset[str] = _codes("AR BO BR CL CO CR CU DO EC GT HN HT MX NI PA PE PR PY SV UY VE")

# The usual performance-marketing "tier 1": high-payout English-speaking markets plus the
# rich Western European ones. Networks disagree at the edges (JP, SG, IL are sometimes
# in); this is the common core, and a campaign can always list countries itself.
TIER1: frozenset[str] = _codes("US CA GB IE AU NZ DE FR NL BE LU AT CH DK NO SE FI")

GROUPS: dict[str, frozenset[str]] = {
    "EU": EU,
    "EEA": EEA,
    "DACH": DACH,
    "NORDICS": NORDICS,
    "LATAM": LATAM,
    "TIER1": TIER1,
}


def is_country_or_group(value: str) -> bool:
    upper = value.upper()
    return upper in ISO_COUNTRIES or upper in GROUPS


def expand(values: tuple[str, ...] | list[str]) -> frozenset[str]:
    """The countries named by codes and group names (case-insensitive; unknown names dropped)."""
    out: set[str] = set()
    for value in values:
        upper = value.strip().upper()
        if upper in GROUPS:
            out |= GROUPS[upper]
        elif upper in ISO_COUNTRIES:
            out.add(upper)
    return frozenset(out)
