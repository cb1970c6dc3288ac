"""Limits that more than one part enforces, stated once so that they cannot disagree."""

from __future__ import annotations

from typing import Final

DAY_MS: Final = 86_400_000
# The longest attribution window a campaign may have, and so the oldest click id a postback
# may name. Graph validation refuses longer windows; the edge refuses older click ids (its
# TURNOUT_EDGE_MAX_ATTRIBUTION_DAYS may lower this, never raise it). 90 days is the longest
# click-through window the big ad platforms offer (Google Ads); Meta's is 7.
MAX_ATTRIBUTION_DAYS: Final = 90
MAX_ATTRIBUTION_MS: Final = MAX_ATTRIBUTION_DAYS * DAY_MS
