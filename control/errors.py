"""The control package's one root exception, and the one for a PostgreSQL out of reach."""

from __future__ import annotations

from turnout.errors import TurnoutError


class ControlError(TurnoutError):
    """Root of the control plane's errors; `retriable` tells a caller whether trying again
    may help."""

    retriable = False


class ControlUnavailable(ControlError, ConnectionError):
    """PostgreSQL could not be reached (down, restarting, every pooled connection busy):
    the admin API answers 503 with it; trying again later may help."""

    retriable = True
