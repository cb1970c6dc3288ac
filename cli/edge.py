"""`turnout edge`: every flag is also a TURNOUT_EDGE_* variable (the flag wins)."""

from __future__ import annotations

import argparse
import os
from typing import Any

_FLAGS = (
    ("--host", "TURNOUT_EDGE_HOST", str, "address to listen on (default 127.0.0.1)"),
    ("--port", "TURNOUT_EDGE_PORT", int, "port to listen on (default 8080)"),
    ("--workers", "TURNOUT_EDGE_WORKERS", int, "worker processes (default 1)"),
    ("--trusted-proxies", "TURNOUT_EDGE_TRUSTED_PROXIES", str,
     "comma-separated CIDRs whose X-Forwarded-For is believed (default loopback)"),
    ("--geoip-city", "TURNOUT_EDGE_GEOIP_CITY", str, "GeoIP2/GeoLite2 City .mmdb"),
    ("--geoip-asn", "TURNOUT_EDGE_GEOIP_ASN", str, "GeoLite2 ASN .mmdb ('none' to skip)"),
)


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "edge", help="run the HTTP edge (redirects, postbacks, pixel)",
        description="Run the HTTP edge. Settings come from TURNOUT_EDGE_* variables; "
        "these flags override them.",
    )
    for flag, variable, kind, help_text in _FLAGS:
        parser.add_argument(flag, type=kind, default=None, help=f"{help_text} [{variable}]")
    parser.add_argument("--access-log", action="store_true", default=None,
                        help="log every request (includes addresses and query strings) "
                        "[TURNOUT_EDGE_ACCESS_LOG]")
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    # Worker processes read their settings from the environment, so flags go there.
    for flag, variable, _kind, _help in _FLAGS:
        value = getattr(args, flag.lstrip("-").replace("-", "_"))
        if value is not None:
            os.environ[variable] = str(value)
    if args.access_log:
        os.environ["TURNOUT_EDGE_ACCESS_LOG"] = "1"
    from turnout.edge.server import configure_logging, ensure_shared_secret, run
    from turnout.edge.settings import EdgeSettings

    configure_logging()
    ensure_shared_secret()
    run(EdgeSettings.from_env())
    return 0
