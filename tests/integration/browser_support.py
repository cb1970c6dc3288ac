"""Headless Debian Chromium driven by Playwright (never `playwright install`): a missing
browser is a failure with the command that installs it, not a skip."""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Final

from playwright.async_api import BrowserContext, async_playwright

CHROMIUM: Final = Path(os.environ.get("TURNOUT_CHROMIUM", "/usr/bin/chromium"))
INSTALL: Final = "apt-get install -y chromium chromium-driver"
ARGS: Final = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
               "--no-first-run", "--disable-background-networking",
               "--disable-component-update", "--disable-sync")
LAPTOP: Final = {"width": 1280, "height": 860}
PHONE: Final = {"width": 390, "height": 844}


def require_chromium() -> Path:
    if not CHROMIUM.exists():
        raise AssertionError(f"the browser tests need Debian's Chromium at {CHROMIUM}; "
                             f"install it with: {INSTALL}")
    return CHROMIUM


@contextlib.asynccontextmanager
async def chromium(profile: Path, viewport: dict[str, int] = LAPTOP
                   ) -> AsyncIterator[BrowserContext]:
    """A fresh browser profile in `profile`; closed (and the browser with it) at the end."""
    executable = require_chromium()
    async with async_playwright() as playwright:
        context = await playwright.chromium.launch_persistent_context(
            str(profile), executable_path=str(executable), headless=True, args=list(ARGS),
            viewport=viewport, accept_downloads=True)
        try:
            yield context
        finally:
            await context.close()
