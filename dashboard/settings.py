"""DashboardSettings: what the dashboard reads from `TURNOUT_DASHBOARD_*`, once, at start."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from turnout import env


@dataclass(frozen=True, slots=True)
class DashboardSettings:
    session_ttl_s: int = 8 * 3600
    """Seconds a dashboard session lasts after its last request; then sign in again."""
    cookie_secure: bool = False
    """Mark the session cookie Secure (sent over https only): set it when the dashboard is
    served over https, as it should be anywhere but a laptop."""
    session_prefix: str = "turnout:dashboard:session:"
    """Redis key prefix of the sessions (each holds the signed-in key, server-side only)."""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> DashboardSettings:
        d = cls()
        return cls(
            session_ttl_s=max(60, env.integer("dashboard_session_ttl_s", d.session_ttl_s,
                                              environ)),
            cookie_secure=env.flag("dashboard_cookie_secure", d.cookie_secure, environ),
            session_prefix=env.text("dashboard_session_prefix", d.session_prefix, environ),
        )
