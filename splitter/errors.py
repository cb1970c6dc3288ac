"""The splitter's one exception."""

from __future__ import annotations


class SplitterError(ValueError):
    """A rule or timezone the splitter cannot compile. Never worth retrying: fix the input."""

    retriable = False
