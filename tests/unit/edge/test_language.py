"""Accept-Language: q=0 is "not acceptable", weights per RFC 9110 (issue #10, finding 13)."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from turnout.edge.inputs import primary_language

_ITEM = re.compile(r"\s*([A-Za-z*][A-Za-z0-9_*-]*)\s*(?:;\s*[qQ]\s*=\s*([^;,]*?))?\s*")
_QVALUE = re.compile(r"0(\.[0-9]{0,3})?|1(\.0{0,3})?")


def _reference(header: str) -> str:
    """Every acceptable (weight > 0) language with its weight, then the first of the
    heaviest: the rule without the parser's single pass."""
    weighted = []
    for item in header.split(","):
        match = _ITEM.fullmatch(item)
        if match is None:
            continue
        tag, q = match.groups()
        if q is not None and _QVALUE.fullmatch(q) is None:
            continue
        weight = Decimal(q) if q is not None else Decimal(1)
        primary = re.split("[-_]", tag.lower(), maxsplit=1)[0]
        if weight > 0 and re.fullmatch("[a-z]{2,3}", primary):
            weighted.append((weight, primary))
    if not weighted:
        return ""
    top = max(weight for weight, _ in weighted)
    return next(primary for weight, primary in weighted if weight == top)


@pytest.mark.parametrize(("header", "language"), [
    ("fr;q=0", ""),
    ("fr;q=0.000", ""),
    ("fr;q=0, de;q=0.1", "de"),
    ("de;q=0.1, fr;q=0", "de"),
    ("en;q=0, *;q=0.5", ""),
    ("fr;Q=0.4, de;q=0.3", "fr"),
    ("fr ; q = 0.4 , de;q=0.3", "fr"),
    ("en;q=1.5, de;q=0.2", "de"),  # 1.5 is no weight: skipped
    ("en;q=0.0001, de;q=0.2", "de"),  # four decimals: malformed
    ("en;q=nan, de;q=0.2", "de"),
    ("en;q=1e0, de;q=0.2", "de"),
    ("en;q=0.5, de;q=0.5", "en"),  # equal weights: the first
])
def test_weights(header: str, language: str) -> None:
    assert primary_language(header) == language


_TAGS = st.one_of(st.sampled_from(["en", "en-GB", "fr", "de-DE", "zh_CN", "pt-BR", "*", "x",
                                   "toolong", "1234", "İt", ""]),
                  st.text(alphabet="abcdefgh-_", min_size=0, max_size=6))
_WEIGHTS = st.one_of(
    st.none(),
    st.sampled_from(["0", "0.", "0.0", "0.000", "0.001", "0.5", "0.95", "1", "1.0", "1.000",
                     "1.001", "2", "0.1234", "-0.5", "nan", "1e0", "", " 0.3"]),
    st.from_regex(r"[01](\.[0-9]{0,4})?", fullmatch=True),
)


@settings(max_examples=500, deadline=None)
@given(st.lists(st.tuples(_TAGS, _WEIGHTS, st.sampled_from(["", " "]),
                          st.sampled_from(["q", "Q"])), max_size=6))
def test_the_parser_matches_the_reference(items: list[tuple[str, str | None, str, str]]) -> None:
    header = ",".join(f"{space}{tag}" + ("" if q is None else f";{name}={q}")
                      for tag, q, space, name in items)
    assert primary_language(header) == _reference(header)
