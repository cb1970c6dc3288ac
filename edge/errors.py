"""The edge's one root exception. Bad input is answered with `status` and `reason`."""

from __future__ import annotations

from turnout.errors import TurnoutError


class EdgeError(TurnoutError):
    """Root of the edge's errors; `retriable` tells a caller whether trying again may help."""

    retriable = False


class BadInput(EdgeError):
    """The request cannot be served as sent: answer `status` (a 4xx) with `reason`."""

    def __init__(self, status: int, reason: str) -> None:
        # Networks and browsers retry a 5xx: bad input must never look like our failure.
        if not 400 <= status < 500:
            raise ValueError(f"bad input is answered with a 4xx, not {status}")
        super().__init__(reason)
        self.status = status
        self.reason = reason
