"""The splitter's one exception."""

from __future__ import annotations

from turnout.errors import TurnoutError


class SplitterError(TurnoutError, ValueError):
    """A rule or timezone the splitter cannot compile. Never worth retrying: fix the input."""

    retriable = False
