"""The dashboard's views on real services, through the API in process: sign-in, sessions
and CSRF, the campaign list, the editor's problems at their fields and 412, viewers."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.integration.admin_support import facts_for
from tests.integration.dashboard_support import DashWorld, dashboard_world
from tests.integration.entities_support import A


@pytest.fixture
async def world(postgres_url: str, redis_url: str, clickhouse_dsn: str
                ) -> AsyncIterator[DashWorld]:
    async with dashboard_world(postgres_url, redis_url, clickhouse_dsn, facts_for(A)) as w:
        yield w


async def test_sign_in_lists_campaigns_and_sign_out_ends_the_session(world: DashWorld):
    async with world.browser() as browser:
        assert (await browser.http.get("/ui/campaigns")).headers["location"] == "/ui/sign-in"
        signed = await browser.sign_in(world.keys["editor"])
        assert signed.status_code == 303, signed.text
        cookie = signed.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=lax" in cookie
        assert world.keys["editor"] not in cookie
        page = await browser.http.get("/ui/campaigns")
        assert page.status_code == 200, page.text
        assert "script-src 'self'" in page.headers["content-security-policy"]
        assert "unsafe-inline" not in page.headers["content-security-policy"]
        assert world.keys["editor"] not in page.text
        for campaign in ("Campaign A", "camp-a"):
            assert campaign in page.text
        csrf = await browser.csrf()
        out = await browser.http.post("/ui/sign-out", data={"csrf": csrf})
        assert out.status_code == 303
        assert (await browser.http.get("/ui/campaigns")).status_code == 303
