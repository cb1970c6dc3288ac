"""The dashboard in headless Chromium against `turnout dev` (the whole stack, as `make run`
starts it): sign in, set up a campaign from a template, edit its rule, activate it, send
clicks and postbacks to the edge, read the same numbers as the API, pause, download the
CSV, open the A/B view (not enough data, then enough for p-values and CI bars), pause and
resume two campaigns in bulk, edit an offer's click cap (a bad one shown at its field),
create a webhook and see its secret once, roll back a version; a viewer finds no write
control.

TURNOUT_DASHBOARD_SCREENSHOTS=docs writes the README's screenshots there."""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
import os
import re
import sys
import time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.async_api import BrowserContext, Page, expect

from tests.integration.browser_support import PHONE, chromium
from tests.integration.dev_support import BROWSER, Banner, DevRun
from tests.integration.edge_support import EXAMPLE, click_id_in
from turnout.dashboard import filters

pytestmark = pytest.mark.slow

TURNOUT = [sys.executable, "-m", "turnout.cli.main"]
CAMPAIGN, CODE = "dash-push", "DASH_PUSH"
SECRET = "beta-postback-secret-02"  # beta-net's, in the example graph
VISITORS = ("214.78.0.1", "2.125.160.216", "89.160.20.113", "175.16.199.1", "202.196.224.1",
            "67.43.156.1")
CLICKS_EACH, POSTBACKS = 4, 5
SHOTS = os.environ.get("TURNOUT_DASHBOARD_SCREENSHOTS")


def _midday_zone(now: dt.datetime) -> str:
    """A fixed-offset zone where it is about noon at `now`: the campaign list shows today's
    figures, and a day that ended between the clicks and the check would show none."""
    offset = 12 - now.astimezone(dt.UTC).hour  # -11 .. +12 hours from UTC
    return "Etc/GMT" if offset == 0 else f"Etc/GMT{'-' if offset > 0 else '+'}{abs(offset)}"


ZONE = _midday_zone(dt.datetime.now(dt.UTC))


@pytest.fixture
def dev(tmp_path: Path) -> Any:
    graph = tmp_path / "graph.yaml"
    text = EXAMPLE.read_text()
    assert text.count("timezone: Europe/Berlin") == 1
    graph.write_text(text.replace("timezone: Europe/Berlin", f"timezone: {ZONE}"))
    run = DevRun(TURNOUT, tmp_path, tmp_path / "data", extra=("--graph", str(graph)))
    try:
        yield run, run.banner()
    finally:
        run.kill()


async def _api(banner: Banner, path: str, **params: str) -> Any:
    async with httpx.AsyncClient(timeout=10) as http:
        answer = await http.get(f"{banner.api}{path}", params=params,
                                headers={"Authorization": f"Bearer {banner.token}"})
    assert answer.status_code == 200, answer.text
    return answer.json() if "json" in answer.headers["content-type"] else answer.text


async def _sign_in(page: Page, url: str, token: str) -> None:
    await page.goto(url)
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    await page.fill("#key", token)
    await page.click("button[type=submit]")
    await expect(page.get_by_role("heading", name="Campaigns")).to_be_visible()


async def _traffic(banner: Banner) -> int:
    """Clicks from a few visitors until the edge serves the campaign, then postbacks for
    some of them; the number of clicks the edge took."""
    async with httpx.AsyncClient(timeout=10) as http:
        deadline = time.monotonic() + 15
        while True:  # the activation is published within a second
            first = await http.get(f"{banner.edge}/c/{CODE}", headers={
                "User-Agent": BROWSER, "X-Forwarded-For": VISITORS[0]})
            if first.status_code == 302 or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.1)
        assert first.status_code == 302, first.text
        click_ids = [click_id_in(first.headers["location"])]
        for n in range(len(VISITORS) * CLICKS_EACH - 1):
            answer = await http.get(f"{banner.edge}/c/{CODE}", headers={
                "User-Agent": BROWSER, "X-Forwarded-For": VISITORS[n % len(VISITORS)]})
            assert answer.status_code == 302, answer.text
            click_ids.append(click_id_in(answer.headers["location"]))
        for n, click_id in enumerate(click_ids[:POSTBACKS]):
            postback = await http.get(f"{banner.edge}/postback", params={
                "clickid": click_id, "payout": "8.00", "txid": f"dash-{n}", "secret": SECRET})
            assert postback.status_code == 200, postback.text
    return len(click_ids)


async def _counted(banner: Banner, clicks: int) -> dict[str, Any]:
    deadline = time.monotonic() + 90
    row: dict[str, Any] = {}
    while time.monotonic() < deadline:
        body = await _api(banner, "/api/v1/report", group_by="campaign",
                          **{"from": "all", "f.campaign": CAMPAIGN})
        rows = body["rows"]
        row = rows[0] if rows else {}
        if row.get("clicks") == clicks and row.get("conversions") == POSTBACKS:
            return row
        await asyncio.sleep(0.2)
    raise AssertionError(f"not counted after 90 s: {row}")


async def _shot(page: Page, name: str) -> None:
    if SHOTS:
        await page.screenshot(path=str(Path(SHOTS) / name), full_page=False)


async def test_a_media_buyer_runs_a_campaign_in_the_dashboard(dev: Any, tmp_path: Path):
    run, banner = dev
    assert banner.dashboard.endswith("/ui")
    async with chromium(tmp_path / "profile") as context:
        page = await context.new_page()
        await _sign_in(page, banner.dashboard, banner.token)
        await _set_up_from_template(page, banner)
        await _edit_rule(page)
        await page.click("button[data-action=activate]")
        await expect(page.locator(".notice-ok")).to_contain_text("active")
        clicks = await _traffic(banner)
        counted = await _counted(banner, clicks)
        await _list_matches_the_api(page, banner, counted)
        await _report_matches_the_api(page, banner, context)
        await _pause_from_the_list(page)
        await _ab_view(page, banner)
        await _bulk_pause_and_resume(page, ("camp-a", "summer"))
        await _ab_with_enough_data(page, banner)
        await _offer_click_cap(page, banner)
        await _webhook_secret_once(page, banner)
        await _roll_back(page, banner)
    await _viewer(tmp_path, banner)
    assert "Traceback" not in run.logs()


async def _set_up_from_template(page: Page, banner: Banner) -> None:
    await page.goto(f"{banner.dashboard}/setup")
    await page.check("input[name=promoted][value=online_offer]")
    await page.check("input[name=where][value=other]")
    await page.click("text=Show the setup")
    await expect(page.locator("#template")).to_be_visible()
    await page.fill("input[name='picks.campaign_id']", CAMPAIGN)
    await page.fill("input[name='picks.name']", "Push <b>antivirus</b> · été")
    await page.fill("input[name='picks.code']", CODE)
    await page.select_option("select[name='picks.traffic_source']", "push-net")
    await page.fill("input[name='picks.safe_page']", "https://www.example.com/safe")
    await page.select_option("select[name='picks.offers[0].id']", "antivirus")
    await page.click("#create")
    await expect(page.locator(".notice-ok")).to_contain_text("Created")
    # Escaped, not interpreted: the markup is text.
    await expect(page.locator("h1")).to_have_text("Push <b>antivirus</b> · été")


async def _edit_rule(page: Page) -> None:
    # Plain 302 (the template's double meta refresh hides the Location the test reads).
    await page.select_option("select[name=redirect_mode]", "302")
    await page.click("button[data-add=rules]")
    rule = page.locator("section.rule").last
    await rule.locator("button[data-add$='.destinations']").click()
    rule = page.locator("section.rule").last
    rows = rule.locator("tr[data-destination]")
    await expect(rows).to_have_count(2)
    await rows.nth(0).locator("input[aria-label=reference]").fill("antivirus")
    await rows.nth(1).locator("input[aria-label=reference]").fill("cleaner-app")
    await rows.nth(0).locator("input.weight").fill("3")
    await rows.nth(1).locator("input.weight").fill("-1")
    await page.click("#save")
    weight = rows.nth(1).locator(".field-error")
    await expect(weight).to_contain_text(">= 0")
    await expect(page.locator("#form-message")).to_contain_text("fix the fields")
    rows = page.locator("section.rule").last.locator("tr[data-destination]")
    await rows.nth(1).locator("input.weight").fill("1")
    # The live share follows the weights as they are typed.
    await expect(rows.nth(0).locator("output.share")).to_have_text("75.0 %")
    await expect(rows.nth(1).locator("output.share")).to_have_text("25.0 %")
    await page.click("#save")
    await expect(page.locator(".notice-ok")).to_contain_text("Saved")


def _shown(row: dict[str, Any], currency: str) -> dict[str, str]:
    return {"clicks": filters.count(row["clicks"]),
            "conversions": filters.count(row["conversions"]),
            "revenue": filters.money(row["revenue"], currency),
            "cost": filters.money(row["cost"], currency),
            "profit": filters.money(row["profit"], currency),
            "roi": filters.percent(row["roi"])}


async def _list_matches_the_api(page: Page, banner: Banner, counted: dict[str, Any]) -> None:
    today = await _api(banner, "/api/v1/report", group_by="campaign",
                       metrics="clicks,conversions,revenue,cost,profit,roi",
                       **{"from": _today(), "f.campaign": CAMPAIGN})
    (api_row,) = today["rows"]
    assert api_row["clicks"] == counted["clicks"]
    await page.goto(f"{banner.dashboard}/campaigns")
    row = page.locator(f"tr[data-campaign='{CAMPAIGN}']")
    for name, text in _shown(api_row, today["currency"]).items():
        await expect(row.locator(f"td[data-metric={name}]")).to_have_text(text)
    await _shot(page, "dashboard-campaigns.png")


def _today() -> str:
    """Today in the workspace's timezone (the campaign list's day)."""
    return dt.datetime.now(ZoneInfo(ZONE)).date().isoformat()


async def _report_matches_the_api(page: Page, banner: Banner, context: BrowserContext
                                  ) -> None:
    await page.goto(f"{banner.dashboard}/reports?group_by=campaign&group_by=destination"
                    f"&from={_today()}")
    await expect(page.locator("#report")).to_be_visible()
    await expect(page.locator("#timeline canvas")).to_have_count(1)
    api = await _api(banner, "/api/v1/report", group_by="campaign,destination",
                     **{"from": _today(), "totals": "true"})
    cells = page.locator("#report tbody tr")
    await expect(cells).to_have_count(len(api["rows"]))
    for i, row in enumerate(api["rows"]):
        for name, value in row.items():
            shown = cells.nth(i).locator(f"td[data-column={name}]")
            await expect(shown).to_have_attribute("data-value",
                                                  "" if value is None else str(value))
    await _shot(page, "dashboard-reports.png")
    async with page.expect_download() as download_info:
        await page.click("#csv")
    download = await download_info.value
    text = Path(await download.path()).read_text()
    expected = await _api(banner, "/api/v1/report", group_by="campaign,destination",
                          format="csv", **{"from": _today()})
    assert list(csv.reader(io.StringIO(text))) == list(csv.reader(io.StringIO(expected)))


async def _pause_from_the_list(page: Page) -> None:
    await page.goto(page.url.split("/ui/")[0] + "/ui/campaigns")
    row = page.locator(f"tr[data-campaign='{CAMPAIGN}']")
    await row.locator("button[data-action=pause]").click()
    row = page.locator(f"tr[data-campaign='{CAMPAIGN}']")
    await expect(row.locator("td[data-status]")).to_have_attribute("data-status", "paused")
    await expect(row.locator("button[data-action=resume]")).to_be_visible()


async def _ab_view(page: Page, banner: Banner) -> None:
    campaign = await _api(banner, f"/api/v1/campaigns/{CAMPAIGN}")
    rule = campaign["rules"][-1]["id"]
    await page.goto(f"{banner.dashboard}/ab?campaign={CAMPAIGN}&rule={rule}")
    table = page.locator("#ab")
    await expect(table).to_be_visible()
    # A few dozen clicks are below the minimum-sample guard.
    await expect(table.locator(".insufficient").first).to_have_text("Not enough data yet")


async def _bulk(page: Page, ids: tuple[str, ...], verb: str) -> None:
    await page.goto(page.url.split("/ui/")[0] + "/ui/campaigns")
    for campaign_id in ids:
        await page.check(f"tr[data-campaign='{campaign_id}'] input[name=ids]")
    await page.select_option("#bulk select[name=action]", verb)
    await page.click("#bulk button[type=submit]")


async def _bulk_pause_and_resume(page: Page, ids: tuple[str, ...]) -> None:
    for verb, status in (("pause", "paused"), ("resume", "active")):
        await _bulk(page, ids, verb)
        for campaign_id in ids:
            await expect(page.locator(f"tr[data-campaign='{campaign_id}'] td[data-status]")
                         ).to_have_attribute("data-status", status)


AB_VISITORS, AB_CONVERT_EVERY = 640, 6


def _visitor(n: int) -> str:
    """A public address of a /24 of its own (the edge keeps /24 prefixes)."""
    return f"45.{n // 200}.{n % 200}.7"


async def _ab_with_enough_data(page: Page, banner: Banner) -> None:
    """Many distinct visitors (no cookies: the split is sticky per visitor) so both
    destinations of the rule get 100 clicks and more, and postbacks for some of each."""
    await page.goto(f"{banner.dashboard}/campaigns")
    await page.locator(f"tr[data-campaign='{CAMPAIGN}'] button[data-action=resume]").click()
    await expect(page.locator(f"tr[data-campaign='{CAMPAIGN}'] td[data-status]")
                 ).to_have_attribute("data-status", "active")
    by_offer: dict[str, list[str]] = {}
    async with httpx.AsyncClient(timeout=10) as http:
        deadline = time.monotonic() + 15
        for n in range(AB_VISITORS):
            while True:  # the resume is published within a second
                http.cookies.clear()  # no visitor cookie: a new visitor each click
                answer = await http.get(f"{banner.edge}/c/{CODE}", headers={
                    "User-Agent": BROWSER, "X-Forwarded-For": _visitor(n)})
                if answer.status_code == 302 or n or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.1)
            assert answer.status_code == 302, answer.text
            location = answer.headers["location"]
            by_offer.setdefault("cleaner" if "/cleaner" in location else "av", []).append(
                click_id_in(location))
        counts = {k: len(v) for k, v in by_offer.items()}
        assert set(counts) == {"av", "cleaner"} and min(counts.values()) >= 110, counts
        for offer, click_ids in by_offer.items():
            for n, click_id in enumerate(click_ids[::AB_CONVERT_EVERY]):
                postback = await http.get(f"{banner.edge}/postback", params={
                    "clickid": click_id, "payout": "8.00", "txid": f"ab-{offer}-{n}",
                    "secret": SECRET})
                assert postback.status_code == 200, postback.text
    campaign = await _api(banner, f"/api/v1/campaigns/{CAMPAIGN}")
    rule = campaign["rules"][-1]["id"]
    # The page must show what the API says once every A/B click and postback is counted
    # (compared earlier, a conversion ingested in between changes the p-value): wait for
    # all of them, and for two answers in a row to agree.
    sent = {"clicks": AB_VISITORS,
            "conversions": sum(len(ids[::AB_CONVERT_EVERY]) for ids in by_offer.values())}
    deadline = time.monotonic() + 90
    previous = None
    while True:
        body = await _api(banner, "/api/v1/ab", campaign=CAMPAIGN, rule=rule,
                          **{"from": "all"})
        compared = [a for a in body["arms"] if a.get("role") != "control"]
        counted = {k: sum(a[k] for a in body["arms"]) for k in sent}
        if (compared and all(a["status"] == "ok" for a in body["arms"])
                and all(counted[k] >= sent[k] for k in sent) and body == previous):
            break
        assert time.monotonic() < deadline, f"not all counted after 90 s: {counted}, {body}"
        previous = body
        await asyncio.sleep(1)
    await page.goto(f"{banner.dashboard}/ab?campaign={CAMPAIGN}&rule={rule}")
    for arm in compared:
        row = page.locator(f"#ab tr[data-destination='{arm['destination']}']")
        await expect(row).to_have_attribute("data-status", "ok")
        await expect(row.locator("td.num").last).to_have_text(str(arm["p_value"]))
        await expect(row.locator(".ci-bar")).to_have_attribute("style", re.compile("width"))
        assert await row.locator(".ci-bar").evaluate("e => e.offsetWidth") > 0
    await _shot(page, "dashboard-ab.png")


async def _offer_click_cap(page: Page, banner: Banner) -> None:
    await page.goto(f"{banner.dashboard}/offers")
    await page.click("a[data-edit='antivirus']")
    await page.fill("input[name=daily_click_cap]", "lots")
    await page.click("#save")
    await expect(page.locator("#form-message")).to_contain_text("fix the fields")
    await expect(page.locator(".field-error[data-path=daily_click_cap]")).to_be_visible()
    await expect(page.locator("input[name=daily_click_cap]")).to_have_attribute(
        "aria-invalid", "true")
    await page.fill("input[name=daily_click_cap]", "5000")
    await page.click("#save")
    await expect(page.locator(".notice-ok")).to_contain_text("Saved offer")
    await expect(page.locator("tr[data-id=antivirus]")).to_contain_text("5000")
    assert (await _api(banner, "/api/v1/offers/antivirus"))["daily_click_cap"] == 5000


async def _webhook_secret_once(page: Page, banner: Banner) -> None:
    await page.goto(f"{banner.dashboard}/webhooks")
    await page.fill("#webhook-form input[name=id]", "ops-hook")
    await page.fill("#webhook-form input[name=url]", "https://hooks.example.com/turnout")
    await page.click("#create-webhook")
    secret = page.locator("#secret")
    await expect(secret).to_have_value(re.compile(r"^whsec_\S{20,}$"))
    shown = await secret.input_value()
    await page.goto(f"{banner.dashboard}/webhooks")
    await expect(page.locator("tr[data-webhook=ops-hook]")).to_be_visible()
    assert shown not in await page.content()


async def _roll_back(page: Page, banner: Banner) -> None:
    versions = await _api(banner, "/api/v1/versions")
    current = versions["publishing"]["current"]
    target = current - 1
    await page.goto(f"{banner.dashboard}/versions")
    await page.click(f"button[data-rollback='{target}']")
    await expect(page.locator(".notice-ok")).to_contain_text(f"Rolled back to version {target}")
    after = await _api(banner, "/api/v1/versions")
    assert after["publishing"]["current"] > current


async def _viewer(tmp_path: Path, banner: Banner) -> None:
    async with httpx.AsyncClient(timeout=10) as http:
        made = await http.post(f"{banner.api}/api/v1/keys", json={"role": "viewer",
                                                                 "name": "dash viewer"},
                               headers={"Authorization": f"Bearer {banner.token}"})
    assert made.status_code == 201, made.text
    async with chromium(tmp_path / "viewer", PHONE) as context:
        page = await context.new_page()
        await _sign_in(page, banner.dashboard, made.json()["token"])
        await _shot(page, "dashboard-phone.png")
        for path in ("/campaigns", f"/campaigns/{CAMPAIGN}", "/versions"):
            await page.goto(banner.dashboard + path)
            await expect(page.locator("main form[method=post]")).to_have_count(0)
            await expect(page.locator("[data-action], [data-rollback], #save")).to_have_count(0)
        csrf = await page.locator("input[name=csrf]").first.get_attribute("value")
        answer = await context.request.post(f"{banner.dashboard}/campaigns/{CAMPAIGN}/resume",
                                            form={"csrf": csrf or "", "revision": "1"})
        assert answer.status == 403
        assert "viewer" in await answer.text()
