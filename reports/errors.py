"""The reports package's one root exception."""

from __future__ import annotations

from turnout.errors import TurnoutError


class ReportError(TurnoutError):
    """Base of report failures; `retriable` says whether asking again may work."""

    retriable = False


class ParameterError(ReportError):
    """A report parameter is unknown or malformed (HTTP 400, CLI usage error)."""


class StoreError(ReportError):
    """ClickHouse failed to answer the query."""

    retriable = True


class FactsMissing(ReportError):
    """The workspace's time zone and currency are not known (no graph loaded from Redis):
    reporting anyway would answer in the wrong zone or currency, so the request is refused."""

    retriable = True
