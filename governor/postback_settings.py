"""PostbackSettings: how the governor sends postbacks to traffic sources, from `TURNOUT_*`.

A request's timeout is the governor's (GovernorSettings.http_timeout_s)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from turnout import env


@dataclass(frozen=True, slots=True)
class PostbackSettings:
    attempts: int = 8
    """Attempts a postback gets before it is given up as failed."""
    window_s: float = 86_400.0
    """Seconds after a postback was first owed that it is still retried; later it fails."""
    concurrency: int = 16
    """Requests to traffic sources in flight at once."""
    backoff_base_s: float = 10.0
    """Delay before the second attempt; each later one doubles it (up to the cap), then a
    random jitter takes up to half of it off, so retries of many postbacks spread out."""
    backoff_cap_s: float = 3_600.0
    """Longest delay between two attempts, before jitter."""
    lookback_s: float = 259_200.0
    """How far back the first pass after a start looks for conversions owed a postback."""
    ingest_grace_s: float = 300.0
    """Seconds a conversion may reach ClickHouse after later ones and still be found: each
    pass reads again from this long before the newest conversion it saw."""
    batch: int = 5_000
    """Conversions read from ClickHouse in one pass at most."""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> PostbackSettings:
        d = cls()
        return cls(
            attempts=max(1, env.integer("governor_postback_attempts", d.attempts, environ)),
            window_s=max(0.0, env.number("governor_postback_window_s", d.window_s, environ)),
            concurrency=max(1, env.integer("governor_postback_concurrency", d.concurrency,
                                           environ)),
            backoff_base_s=max(0.0, env.number("governor_postback_backoff_base_s",
                                               d.backoff_base_s, environ)),
            backoff_cap_s=max(0.0, env.number("governor_postback_backoff_cap_s",
                                              d.backoff_cap_s, environ)),
            lookback_s=max(0.0, env.number("governor_postback_lookback_s", d.lookback_s,
                                           environ)),
            ingest_grace_s=max(0.0, env.number("governor_postback_ingest_grace_s",
                                               d.ingest_grace_s, environ)),
            batch=max(1, env.integer("governor_postback_batch", d.batch, environ)),
        )
