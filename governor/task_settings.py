"""What the automation and webhook tasks read from `TURNOUT_GOVERNOR_*`, once, at start."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from turnout import env


@dataclass(frozen=True, slots=True)
class AutomationSettings:
    interval_s: float = 60.0
    """Seconds between two runs of one automation rule (each run is a report query and a
    row of history); a rule is due when its last run is at least this old."""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> AutomationSettings:
        d = cls()
        return cls(interval_s=max(1.0, env.number("governor_automation_interval_s",
                                                  d.interval_s, environ)))


@dataclass(frozen=True, slots=True)
class WebhookSettings:
    attempts: int = 8
    """Attempts per (notification, endpoint) before the delivery is given up (recorded as
    failed)."""
    timeout_s: float = 5.0
    """Seconds one POST may take (connect, send, answer) before it counts as failed."""
    concurrency: int = 8
    """POSTs in flight at once."""
    backoff_s: float = 10.0
    """Seconds before the first retry; each further one waits twice as long (with full
    jitter), up to TURNOUT_GOVERNOR_WEBHOOK_BACKOFF_MAX_S."""
    backoff_max_s: float = 3600.0
    """The longest wait between two attempts."""
    batch: int = 200
    """Deliveries attempted per pass at most (the rest wait for the next pass)."""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> WebhookSettings:
        d = cls()
        return cls(
            attempts=max(1, env.integer("governor_webhook_attempts", d.attempts, environ)),
            timeout_s=max(0.1, env.number("governor_webhook_timeout_s", d.timeout_s, environ)),
            concurrency=max(1, env.integer("governor_webhook_concurrency", d.concurrency,
                                           environ)),
            backoff_s=max(0.0, env.number("governor_webhook_backoff_s", d.backoff_s, environ)),
            backoff_max_s=max(0.0, env.number("governor_webhook_backoff_max_s",
                                              d.backoff_max_s, environ)),
            batch=max(1, env.integer("governor_webhook_batch", d.batch, environ)),
        )
