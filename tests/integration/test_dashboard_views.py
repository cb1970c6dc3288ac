"""The dashboard's views on real services, through the API in process: sign-in, sessions
and CSRF, the campaign list, the editor's problems at their fields and 412, viewers."""

from __future__ import annotations

from collections.abc import AsyncIterator

import psycopg
import pytest
from psycopg.types.json import Jsonb

from tests.integration.admin_support import facts_for
from tests.integration.dashboard_support import DashWorld, csrf_of, dashboard_world
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


PAGES = ("/ui/campaigns", "/ui/campaigns/camp-a", "/ui/reports", "/ui/leaderboard", "/ui/ab",
         "/ui/ab?campaign=camp-a", "/ui/offers", "/ui/landers", "/ui/funnels",
         "/ui/traffic-sources", "/ui/networks", "/ui/money", "/ui/status", "/ui/automation",
         "/ui/versions", "/ui/audit",
         "/ui/setup?promoted=online_offer&where=other")


async def test_every_page_renders_for_an_editor(world: DashWorld):
    async with world.browser() as browser:
        await browser.sign_in(world.keys["editor"])
        for path in PAGES:
            page = await browser.http.get(path)
            assert page.status_code == 200, (path, page.text[-2000:])
        builder = await browser.http.get("/ui/networks/alpha-net/postback")
        assert builder.status_code == 200, builder.text[-2000:]
        for segment, entity_id in EDITED:
            for path in (f"/ui/{segment}/new", f"/ui/{segment}/{entity_id}/edit"):
                page = await browser.http.get(path)
                assert page.status_code == 200, (path, page.text[-2000:])
                assert 'id="entity-form"' in page.text


async def test_a_viewer_gets_no_write_control_and_403_on_a_hand_made_post(world: DashWorld):
    async with world.browser() as browser:
        await browser.sign_in(world.keys["viewer"])
        for path in PAGES[:-1]:
            page = await browser.http.get(path)
            assert page.status_code == 200, (path, page.text[-2000:])
            forms = [f for f in page.text.split("<form")[1:]
                     if 'method="post"' in f and "/sign-out" not in f]
            assert forms == [], (path, forms)
        csrf = await browser.csrf()
        for path, data in (("/ui/campaigns/camp-a/pause", {"revision": "1"}),
                           ("/ui/campaigns/bulk", {"action": "pause", "ids": "camp-a"}),
                           ("/ui/campaigns/camp-a", {"revision": "1", "name": "x"}),
                           ("/ui/versions/1/rollback", {}),
                           ("/ui/campaigns/bulk", {"action": "resume", "ids": "camp-a"}),
                           *((f"/ui/{segment}", {"id": "x", "name": "x"})
                             for segment, _ in EDITED),
                           *((f"/ui/{segment}/{entity_id}/{verb}", {"revision": "1"})
                             for segment, entity_id in EDITED for verb in ("edit", "delete")),
                           ("/ui/webhooks", {"id": "x", "url": "https://x.example"}),
                           ("/ui/webhooks/x/switch", {"revision": "1"}),
                           ("/ui/webhooks/x/rotate", {"revision": "1"}),
                           ("/ui/webhooks/x/delete", {"revision": "1"}),
                           ("/ui/money/fx", {"csv": "date,currency,rate\n"})):
            answer = await browser.http.post(path, data={"csrf": csrf, **data})
            assert answer.status_code == 403, (path, answer.text)
            assert "viewer" in answer.text, path
        assert (await browser.http.get("/ui/setup")).status_code == 403
        for segment, entity_id in EDITED:
            for path in (f"/ui/{segment}/new", f"/ui/{segment}/{entity_id}/edit"):
                assert (await browser.http.get(path)).status_code == 403, path
        assert (await browser.http.get("/ui/webhooks")).status_code == 403
        listing = (await browser.http.get("/ui/networks")).text
        assert "/edit" not in listing and "New network" not in listing
        assert "alpha-postback-secret" not in listing
        assert (await browser.http.get("/ui/networks/alpha-net/postback")).status_code == 403


# A kind of entity the dashboard edits, and one of the example graph's.
EDITED = (("offers", "antivirus"), ("landers", "lp-usa"), ("funnels", "quiz-funnel"),
          ("traffic-sources", "push-net"), ("networks", "alpha-net"))


def _editor_fields(html: str) -> list[tuple[str, str]]:
    """The editor form's text fields and selected options, as the browser would send."""
    import html as html_lib
    import re

    form = html.split('class="editor"', 1)[1].split("</form>", 1)[0]
    fields = [(m["name"], html_lib.unescape(m["value"])) for m in re.finditer(
        r'<input (?:(?!type="checkbox")[^>])*?name="(?P<name>[^"]+)" value="(?P<value>[^"]*)"',
        form)]
    for select in re.finditer(r'<select name="(?P<name>[^"]+)"[^>]*>(?P<body>.*?)</select>',
                              form, re.S):
        chosen = re.search(r"<option(?: value=\"([^\"]*)\")? selected>([^<]*)<",
                           select["body"])
        if chosen:
            fields.append((select["name"], html_lib.unescape(chosen[1] or chosen[2])))
    return fields


async def test_the_editor_shows_problems_at_their_fields_refuses_stale_edits_and_escapes(
        world: DashWorld):
    async with world.browser() as browser:
        await browser.sign_in(world.keys["editor"])
        page = (await browser.http.get("/ui/campaigns/camp-a")).text
        fields = dict(_editor_fields(page))
        assert fields["rules[1].destinations[0].weight"]
        revision = fields["revision"]
        bad = {**fields, "rules[1].destinations[0].weight": "-3"}
        answer = await browser.http.post("/ui/campaigns/camp-a", data=bad)
        assert answer.status_code == 422, answer.text[-3000:]
        assert 'data-path="rules[1].destinations[0].weight"' in answer.text
        assert "&gt;= 0" in answer.text
        # A name with markup and unicode round-trips as text.
        name = "<script>alert(1)</script> Été ☀"
        saved = await browser.http.post("/ui/campaigns/camp-a", data={**fields, "name": name})
        assert saved.status_code == 303, saved.text[-3000:]
        shown = (await browser.http.get("/ui/campaigns/camp-a")).text
        assert "<script>alert(1)</script>" not in shown
        assert "&lt;script&gt;alert(1)&lt;/script&gt; Été ☀" in shown
        # The old revision again: 412, said clearly, the edit kept on the page.
        stale = await browser.http.post("/ui/campaigns/camp-a",
                                        data={**fields, "revision": revision, "name": "late"})
        assert stale.status_code == 412
        assert "someone else changed this campaign" in stale.text
        assert 'value="late"' in stale.text
        # Adding a rule without saving: a new rule with one destination is on the form.
        added = await browser.http.post("/ui/campaigns/camp-a",
                                        data={**fields, "op": "add:rules"})
        assert added.status_code == 200
        assert 'name="rules[2].destinations[0].weight"' in added.text


async def test_budget_and_cap_status_shows_the_budget_the_lease_ledger_and_verdicts(
        world: DashWorld):
    import datetime as dt

    import redis.asyncio as aioredis

    from turnout.config import meters, overlay

    async with world.browser() as browser:
        await browser.sign_in(world.keys["editor"])
        fields = dict(_editor_fields((await browser.http.get("/ui/campaigns/camp-a")).text))
        saved = await browser.http.post("/ui/campaigns/camp-a", data={
            **fields, "budget.amount": "250", "budget.period": "daily",
            "budget.thresholds": "80 notify, 100 pause", "daily_click_cap": "1000"})
        assert saved.status_code == 303, saved.text[-3000:]
        day = dt.datetime.now(dt.UTC).date().isoformat()  # facts_for: UTC
        redis = aioredis.from_url(world.redis_url)
        try:
            ledger = meters.Meters(redis, world.graph_prefix)
            await ledger.seed(ledger.key("budget", "camp-a", day), 12_500_000)
            await ledger.seed(ledger.key("campaign_clicks", "camp-a", day), 40)
            await overlay.write(redis, world.graph_prefix,
                                {"vpn-us": overlay.Verdict("conversion_cap")},
                                {"camp-a": overlay.Verdict("budget")})
        finally:
            await redis.aclose()
        page = (await browser.http.get("/ui/status")).text
        # A URL-param cost is leased: the edges' reported spend counts, as the governor's.
        row = page.split('data-campaign="camp-a"', 1)[1].split("</tr>", 1)[0]
        assert 'data-spent="12.500000"' in row and "5.0 %" in row
        redis = aioredis.from_url(world.redis_url)
        try:
            ledger = meters.Meters(redis, world.graph_prefix)
            await redis.set(meters.seeded_key(world.graph_prefix), meters.SEEDED)
            assert await ledger.take(ledger.key("budget", "camp-a", day), limit=12_500_000,
                                     want=1) == 0
        finally:
            await redis.aclose()
        page = (await browser.http.get("/ui/status")).text
    row = page.split('data-campaign="camp-a"', 1)[1].split("</tr>", 1)[0]
    assert "100 %" in row and "exhausted" in row  # an exhausted ledger is the whole budget
    assert "$250.00 daily" in row and "80 % notify, 100 % pause" in row
    assert "$12.50 / $12.50" in row  # the ledger: granted / spent
    assert "0 / 1,000" in row and "leased 40" in row
    assert "blocked: budget" in row
    offers = page.split('id="offer-caps"', 1)[1]
    assert "0 / 200" in offers and "capped: conversion_cap" in offers


async def test_automation_rules_show_with_their_switches_and_a_stale_one_is_refused(
        world: DashWorld):
    rule = {"id": "low-roi", "name": "Pause <losers>", "metric": "roi", "op": "<",
            "value": "-20", "window_hours": 24, "scope": "campaign",
            "targets": [{"campaign": "camp-a"}], "action": "pause", "min_clicks": 100}
    async with world.browser() as browser:
        made = await browser.http.post("/api/v1/automation/rules", json=rule,
                                       headers={"Authorization":
                                                f"Bearer {world.keys['editor']}"})
        assert made.status_code == 201, made.text
        await browser.sign_in(world.keys["editor"])
        page = (await browser.http.get("/ui/automation")).text
        row = page.split('data-rule="low-roi"', 1)[1].split("</tr>", 1)[0]
        assert "Pause &lt;losers&gt;" in row and "roi &lt; -20 over 24 h" in row
        assert "at least 100 clicks" in row and "enabled" in row
        csrf = await browser.csrf("/ui/automation")
        switched = await browser.http.post("/ui/automation/low-roi/dry_run",
                                           data={"csrf": csrf, "revision": "1"})
        assert switched.status_code == 303
        page = (await browser.http.get("/ui/automation")).text
        assert "dry run on" in page and "Act for real" in page
        stale = await browser.http.post("/ui/automation/low-roi/enabled",
                                        data={"csrf": csrf, "revision": "1"})
        assert stale.status_code == 303
        page = (await browser.http.get("/ui/automation")).text
        assert "changed by someone else" in page
        shown = await browser.http.get("/api/v1/automation/rules/low-roi", headers={
            "Authorization": f"Bearer {world.keys['viewer']}"})
        assert shown.json()["enabled"] is True and shown.json()["dry_run"] is True
        # A run as the governor records it (governor/automation writes these rows).
        async with await psycopg.AsyncConnection.connect(world.url) as conn:
            await conn.execute(
                "INSERT INTO automation_runs (workspace_id, automation_rule_id, at,"
                " rule_revision, dry_run, window_start, window_end, evaluated, actions,"
                " errors, duration_ms) VALUES ('acme', 'low-roi', now(), 2, true,"
                " now() - interval '24 hours', now(), %s, %s, %s, 7)",
                (Jsonb([{"item": "camp-a", "clicks": 1500, "value": "-35.5",
                         "outcome": "matched"}]),
                 Jsonb([{"item": "camp-a", "action": "pause", "outcome": "would"}]),
                 Jsonb([{"message": "<b>boom</b>"}])))
        page = (await browser.http.get("/ui/automation?rule=low-roi")).text
    history = page.split('id="automation-runs"', 1)[1]
    assert "camp-a: -35.5 (1,500 clicks) · matched" in history
    assert "camp-a: pause · would" in history and "&lt;b&gt;boom&lt;/b&gt;" in history


def _form_fields(html: str, form_id: str) -> dict[str, str]:
    """A form's inputs, textareas and selected options, as the browser would send them."""
    import html as html_lib
    import re

    form = html.split(f'id="{form_id}"', 1)[1].split("</form>", 1)[0]
    fields = {m["name"]: html_lib.unescape(m["value"]) for m in re.finditer(
        r'<input (?:(?!type="checkbox")[^>])*?name="(?P<name>[^"]+)" value="(?P<value>[^"]*)"',
        form)}
    for area in re.finditer(r'<textarea name="(?P<name>[^"]+)"[^>]*>(?P<value>[^<]*)<', form):
        fields[area["name"]] = html_lib.unescape(area["value"])
    for select in re.finditer(r'<select name="(?P<name>[^"]+)"[^>]*>(?P<body>.*?)</select>',
                              form, re.S):
        chosen = re.search(r'<option value="([^"]*)" selected>', select["body"])
        if chosen:
            fields[select["name"]] = html_lib.unescape(chosen[1])
    return fields


async def _entity(world: DashWorld, segment: str, entity_id: str) -> dict:
    import httpx

    async with httpx.AsyncClient(transport=world.app, base_url="http://dash") as http:
        answer = await http.get(f"/api/v1/{segment}/{entity_id}", headers={
            "Authorization": f"Bearer {world.keys['editor']}"})
    assert answer.status_code == 200, answer.text
    return answer.json()


async def test_an_offer_is_created_edited_with_problems_at_fields_and_deleted(world: DashWorld):
    async with world.browser() as browser:
        await browser.sign_in(world.keys["editor"])
        new = await browser.http.get("/ui/offers/new")
        assert new.status_code == 200, new.text[-2000:]
        assert 'name="daily_click_cap"' in new.text and 'name="fallback_offer"' in new.text
        csrf = csrf_of(new.text)
        name = "<script>alert(1)</script> Offre été ☀"
        made = await browser.http.post("/ui/offers", data={
            "csrf": csrf, "id": "dash-offer", "name": name, "url": "https://o.example/?c={clickid}",
            "network": "alpha-net", "payout": "3.25", "currency": "EUR", "daily_cap": "",
            "daily_click_cap": "500", "fallback_offer": "vpn-global"})
        assert made.status_code == 303, made.text[-3000:]
        stored = await _entity(world, "offers", "dash-offer")
        assert (stored["payout"], stored["currency"], stored["daily_click_cap"],
                stored["fallback_offer"], stored["daily_cap"]) == (
            "3.25", "EUR", 500, "vpn-global", None)
        listing = (await browser.http.get("/ui/offers")).text
        assert "&lt;script&gt;alert(1)&lt;/script&gt; Offre été ☀" in listing
        assert "<script>alert(1)" not in listing and "€3.25" in listing
        edit = (await browser.http.get("/ui/offers/dash-offer/edit")).text
        fields = _form_fields(edit, "entity-form")
        assert fields["daily_click_cap"] == "500" and fields["fallback_offer"] == "vpn-global"
        assert fields["name"] == name
        bad = await browser.http.post("/ui/offers/dash-offer/edit",
                                      data={**fields, "daily_click_cap": "lots"})
        assert bad.status_code == 422, bad.text[-3000:]
        error = bad.text.split('data-path="daily_click_cap"', 1)[1][:200]
        assert "int" in error, error
        assert 'value="lots"' in bad.text  # the edit is kept
        saved = await browser.http.post("/ui/offers/dash-offer/edit",
                                        data={**fields, "daily_click_cap": "750"})
        assert saved.status_code == 303, saved.text[-3000:]
        assert (await _entity(world, "offers", "dash-offer"))["daily_click_cap"] == 750
        stale = await browser.http.post("/ui/offers/dash-offer/edit",
                                        data={**fields, "name": "late"})
        assert stale.status_code == 412
        assert "someone else changed this offer" in stale.text and 'value="late"' in stale.text
        # In use: the API refuses the delete and the page says why.
        used = await browser.http.post("/ui/offers/antivirus/delete", data={
            "csrf": csrf, "revision": str((await _entity(world, "offers", "antivirus"))
                                          ["revision"])})
        assert used.status_code == 303
        page = (await browser.http.get(used.headers["location"])).text
        assert "Not deleted: antivirus" in page and "notice-error" in page
        revision = (await _entity(world, "offers", "dash-offer"))["revision"]
        gone = await browser.http.post("/ui/offers/dash-offer/delete",
                                       data={"csrf": csrf, "revision": str(revision)})
        assert gone.status_code == 303
        assert "Deleted offer dash-offer" in (await browser.http.get("/ui/offers")).text


async def test_sources_and_networks_edit_their_maps_lists_and_secrets(world: DashWorld):
    async with world.browser() as browser:
        await browser.sign_in(world.keys["editor"])
        edit = (await browser.http.get("/ui/traffic-sources/push-net/edit")).text
        fields = _form_fields(edit, "entity-form")
        saved = await browser.http.post("/ui/traffic-sources/push-net/edit", data={
            **fields, "tokens": "sub1=zone\nsub2=bid_id\ncost=cpc",
            "postback_url": "https://push.example/pb?c={clickid}&p={payout}",
            "postback_statuses": "approved, pending", "payout_percent": "80",
            "postback_percent": "50"})
        assert saved.status_code == 303, saved.text[-3000:]
        source = await _entity(world, "traffic-sources", "push-net")
        assert source["tokens"] == {"sub1": "zone", "sub2": "bid_id", "cost": "cpc"}
        assert source["postback_statuses"] == ["approved", "pending"]
        assert (source["payout_percent"], source["postback_percent"]) == ("80", "50")
        broken = await browser.http.post("/ui/traffic-sources/push-net/edit", data={
            **_form_fields((await browser.http.get("/ui/traffic-sources/push-net/edit")).text,
                           "entity-form"), "tokens": "sub1 zone"})
        assert broken.status_code == 422
        assert 'data-path="tokens"' in broken.text and "key=value" in broken.text

        before = await _entity(world, "networks", "alpha-net")
        edit = (await browser.http.get("/ui/networks/alpha-net/edit")).text
        assert before["secret"] not in edit  # a secret is never put into the page
        fields = _form_fields(edit, "entity-form")
        assert fields["secret"] == ""
        saved = await browser.http.post("/ui/networks/alpha-net/edit", data={
            **fields, "ip_allowlist": "10.0.0.0/8, 192.0.2.0/24",
            "statuses": "sale=approved\nrefund=chargeback", "hmac_key": "a-new-hmac-key-123"})
        assert saved.status_code == 303, saved.text[-3000:]
        after = await _entity(world, "networks", "alpha-net")
        assert after["secret"] == before["secret"]  # blank: kept
        assert after["hmac_key"] == "a-new-hmac-key-123"
        assert after["ip_allowlist"] == ["10.0.0.0/8", "192.0.2.0/24"]
        assert after["statuses"] == {"sale": "approved", "refund": "chargeback"}
        listing = (await browser.http.get("/ui/networks")).text
        assert before["secret"] not in listing and "a-new-hmac-key-123" not in listing
        fields = _form_fields((await browser.http.get("/ui/networks/alpha-net/edit")).text,
                              "entity-form")
        cleared = await browser.http.post("/ui/networks/alpha-net/edit",
                                          data={**fields, "hmac_key.clear": "on"})
        assert cleared.status_code == 303, cleared.text[-3000:]
        assert (await _entity(world, "networks", "alpha-net"))["hmac_key"] is None


async def test_webhooks_are_created_with_their_secret_shown_once_switched_rotated_deleted(
        world: DashWorld):
    import re

    async with world.browser() as browser:
        await browser.sign_in(world.keys["admin"])
        page = await browser.http.get("/ui/webhooks")
        assert page.status_code == 200, page.text[-2000:]
        assert 'href="/ui/webhooks"' in page.text
        csrf = csrf_of(page.text)
        bad = await browser.http.post("/ui/webhooks", data={
            "csrf": csrf, "id": "ops", "url": "ftp://nope", "events": "cap.reached",
            "enabled": "on"})
        assert bad.status_code == 422, bad.text[-2000:]
        assert 'data-path="url"' in bad.text and 'value="ftp://nope"' in bad.text
        made = await browser.http.post("/ui/webhooks", data={
            "csrf": csrf, "id": "ops", "url": "https://hooks.example/<x>",
            "events": ["cap.reached", "budget.threshold"], "enabled": "on"})
        assert made.status_code == 200, made.text[-2000:]
        assert made.headers["cache-control"] == "no-store"
        secret = re.search(r'id="secret" readonly value="(whsec_[^"]+)"', made.text)[1]
        assert "only time it is shown" in made.text
        listing = (await browser.http.get("/ui/webhooks")).text
        assert secret not in listing and "https://hooks.example/&lt;x&gt;" in listing
        row = listing.split('data-webhook="ops"', 1)[1].split("</tr>", 1)[0]
        assert 'data-enabled="true"' in row and "cap.reached" in row
        assert "automation.action" not in row
        off = await browser.http.post("/ui/webhooks/ops/switch",
                                      data={"csrf": csrf, "revision": "1", "enabled": "false"})
        assert off.status_code == 303
        listing = (await browser.http.get("/ui/webhooks")).text
        assert 'data-enabled="false"' in listing and "ops: disabled" in listing
        stale = await browser.http.post("/ui/webhooks/ops/rotate",
                                        data={"csrf": csrf, "revision": "1"})
        assert stale.status_code == 303
        assert "changed by someone else" in (await browser.http.get("/ui/webhooks")).text
        rotated = await browser.http.post("/ui/webhooks/ops/rotate",
                                          data={"csrf": csrf, "revision": "2"})
        assert rotated.status_code == 200, rotated.text[-2000:]
        fresh = re.search(r'id="secret" readonly value="(whsec_[^"]+)"', rotated.text)[1]
        assert fresh != secret
        async with await psycopg.AsyncConnection.connect(world.url) as conn:
            stored = await (await conn.execute(
                "SELECT secret FROM webhook_endpoints WHERE id = 'ops'")).fetchone()
        assert stored == (fresh,)
        gone = await browser.http.post("/ui/webhooks/ops/delete",
                                       data={"csrf": csrf, "revision": "3"})
        assert gone.status_code == 303
        assert "Deleted webhook ops" in (await browser.http.get("/ui/webhooks")).text
    async with world.browser() as browser:
        await browser.sign_in(world.keys["editor"])
        page = (await browser.http.get("/ui/campaigns")).text
        assert 'href="/ui/webhooks"' not in page
        assert (await browser.http.get("/ui/webhooks")).status_code == 403
        csrf = csrf_of(page)
        for path in ("/ui/webhooks", "/ui/webhooks/ops/switch", "/ui/webhooks/ops/rotate",
                     "/ui/webhooks/ops/delete"):
            answer = await browser.http.post(path, data={"csrf": csrf, "revision": "1",
                                                         "id": "x", "url": "https://x.example"})
            assert answer.status_code == 403, (path, answer.text[-500:])


async def test_money_shows_rates_by_day_imports_them_for_fx_writers_and_says_what_is_wrong(
        world: DashWorld):
    import datetime as dt

    today = dt.datetime.now(dt.UTC).date()
    yesterday = today - dt.timedelta(days=1)
    async with world.browser() as browser:
        await browser.sign_in(world.keys["owner"])
        page = await browser.http.get("/ui/money")
        assert page.status_code == 200, page.text[-2000:]
        assert 'id="fx-import"' in page.text
        assert "None held" in page.text and "No postback sent" in page.text
        csrf = csrf_of(page.text)
        bad = await browser.http.post("/ui/money/fx", data={
            "csrf": csrf, "csv": f"date,currency,rate\n{today},USD,1.08\n{today},GBP,lots\n"})
        assert bad.status_code == 422, bad.text[-2000:]
        assert "Nothing was imported" in bad.text
        assert 'data-path="line 3.rate"' in bad.text
        assert "GBP,lots" in bad.text  # the CSV is kept to fix
        done = await browser.http.post("/ui/money/fx", data={
            "csrf": csrf, "base": "EUR",
            "csv": f"date,currency,rate\n{yesterday},USD,1.07\n{today},USD,1.0842\n"
                   f"{today},GBP,0.85\n"})
        assert done.status_code == 303, done.text[-2000:]
        page = (await browser.http.get("/ui/money")).text
        assert "Imported 3 rates over 2 days" in page
        rates = page.split('id="fx-rates"', 1)[1].split("</table>", 1)[0]
        assert rates.index(f'data-day="{today}"') < rates.index(f'data-day="{yesterday}"')
        row = rates.split(f'data-day="{today}" data-currency="USD"', 1)[1].split("</tr>")[0]
        assert "1.0842" in row and "EUR" in row
    for role in ("editor", "viewer"):
        async with world.browser() as browser:
            await browser.sign_in(world.keys[role])
            page = (await browser.http.get("/ui/money")).text
            assert 'id="fx-import"' not in page and 'id="fx-rates"' in page
            answer = await browser.http.post("/ui/money/fx", data={
                "csrf": csrf_of(page), "csv": f"date,currency,rate\n{today},USD,9\n"})
            assert answer.status_code == 403, (role, answer.text[-500:])


async def test_a_lander_and_a_funnel_through_it_are_created_from_their_forms(world: DashWorld):
    async with world.browser() as browser:
        await browser.sign_in(world.keys["editor"])
        csrf = csrf_of((await browser.http.get("/ui/landers/new")).text)
        made = await browser.http.post("/ui/landers", data={
            "csrf": csrf, "id": "lp-new", "name": "New lander",
            "url": "https://lp.example/?cid={lp_cid}", "cta_count": "2"})
        assert made.status_code == 303, made.text[-3000:]
        assert (await _entity(world, "landers", "lp-new"))["cta_count"] == 2
        dup = await browser.http.post("/ui/landers", data={
            "csrf": csrf, "id": "lp-new", "name": "Again", "url": "https://lp.example/"})
        assert dup.status_code == 409 and "Not saved" in dup.text
        funnel = await browser.http.post("/ui/funnels", data={
            "csrf": csrf, "id": "fn-new", "name": "Funnel", "landers": "lp-usa, lp-new",
            "offers": "antivirus, cleaner-app"})
        assert funnel.status_code == 303, funnel.text[-3000:]
        stored = await _entity(world, "funnels", "fn-new")
        assert stored["landers"] == ["lp-usa", "lp-new"]
        assert stored["offers"] == ["antivirus", "cleaner-app"]
        missing = await browser.http.post("/ui/funnels", data={
            "csrf": csrf, "id": "fn-bad", "name": "Funnel", "landers": "nope", "offers": ""})
        assert missing.status_code == 422, missing.text[-3000:]
        assert 'data-path="landers"' in missing.text and "nope" in missing.text
