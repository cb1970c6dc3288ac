"""The ingest package's one root exception."""

from __future__ import annotations

from turnout.errors import TurnoutError


class IngestError(TurnoutError):
    """Root of ingest's errors; `retriable` tells a caller whether trying again may help."""

    retriable = False
