"""The control plane schema refuses bad rows by itself: raw SQL, no writer in between."""

from __future__ import annotations

from collections.abc import AsyncIterator

import psycopg
import pytest

from tests.integration.control_support import control_database
from turnout.config import examples
from turnout.config.io import load_graph
from turnout.config.values import CURRENCIES
from turnout.control.graph_write import import_graph

# A second workspace without domains, its own source, network and offer.
_OTHER = """
INSERT INTO workspaces (id, name) VALUES ('other', 'Other');
INSERT INTO traffic_sources (id, workspace_id, name) VALUES ('other-src', 'other', 'Src');
INSERT INTO networks (id, workspace_id, name, secret) VALUES ('other-net', 'other', 'N',
    'other-secret-01');
INSERT INTO offers (id, workspace_id, name, url, network_id) VALUES ('other-offer', 'other',
    'O', 'https://o.example.com/', 'other-net');
"""
_CAMPAIGN = ("INSERT INTO campaigns (id, workspace_id, name, code, traffic_source_id) "
             "VALUES ('{id}', '{ws}', 'C', '{code}', '{src}')")
_RULE = ("INSERT INTO automation_rules (workspace_id, id, name, metric, op, value, "
         "window_hours, scope, action, weight) VALUES ('acme', 'r1', 'R', {metric}, '<', 0, 1, "
         "{scope}, {action}, {weight})")
_RULE_OK = _RULE.format(metric="'roi'", scope="'campaign'", action="'pause'", weight="NULL")
_TARGET = ("INSERT INTO automation_rule_targets (workspace_id, automation_rule_id, position, "
           "scope, campaign_id, offer_id) VALUES ({ws}, 'r1', 0, {scope}, {campaign}, {offer})")
_ENDPOINT = ("INSERT INTO webhook_endpoints (workspace_id, id, url, secret, events) VALUES "
             "('acme', 'h1', {url}, {secret}, {events})")
_DESTINATION = ("INSERT INTO destinations (campaign_id, rule_id, id, position, workspace_id, "
                "kind, offer_id, lander_id, url) VALUES ('camp-a', 'default', 'x', 9, 'acme', "
                "{kind}, {offer}, {lander}, {url})")

# (case, statement, the constraint that refuses it)
BAD_ROWS = [
    ("negative weight", "UPDATE destinations SET weight = -1 WHERE campaign_id = 'camp-a'",
     "destinations_weight"),
    ("end before start",
     "UPDATE campaigns SET schedule_start = 'b', schedule_end = 'a', "
     "starts_at = '2030-01-02T00:00:00Z', ends_at = '2030-01-01T00:00:00Z' WHERE id = 'summer'",
     "campaigns_end_after_start"),
    ("end equal to start", "UPDATE campaigns SET ends_at = starts_at WHERE id = 'summer'",
     "campaigns_end_after_start"),
    ("schedule text without its instant",
     "UPDATE campaigns SET schedule_start = '2025-01-01T00:00:00' WHERE id = 'camp-a'",
     "campaigns_starts_at_derived"),
    ("unknown status", "UPDATE campaigns SET status = 'running' WHERE id = 'camp-a'",
     "campaigns_status_known"),
    ("duplicate code on the default domain across two domainless workspaces",
     _OTHER + _CAMPAIGN.format(id="o1", ws="other", code="CAMP_A", src="other-src"),
     "campaigns_default_domain_code"),
    ("duplicate code within a workspace",
     _CAMPAIGN.format(id="again", ws="acme", code="CAMP_A", src="push-net"),
     "campaigns_code_unique"),
    ("a domain removed puts a workspace's codes on the default domain",
     _OTHER + "INSERT INTO workspace_domains VALUES ('other', 0, 'other.example');"
     + _CAMPAIGN.format(id="o1", ws="other", code="CAMP_A", src="other-src") + ";"
     "DELETE FROM workspace_domains WHERE workspace_id = 'other'",
     "campaigns_default_domain_code"),
    ("code not URL-safe", "UPDATE campaigns SET code = 'a b' WHERE id = 'camp-a'",
     "slug_format"),
    ("id not a slug", "UPDATE landers SET id = 'lp/usa' WHERE id = 'lp-usa'", "slug_format"),
    ("duplicate network secret",
     "UPDATE networks SET secret = 'alpha-postback-secret-01' WHERE id = 'beta-net'",
     "networks_secret_unique"),
    ("network secret too short", "UPDATE networks SET secret = 'short' WHERE id = 'beta-net'",
     "networks_secret_length"),
    ("unknown network status", "UPDATE networks SET statuses = '{\"1\": \"paid\"}'",
     "networks_statuses_shape"),
    ("destination of kind offer without an offer",
     _DESTINATION.format(kind="'offer'", offer="NULL", lander="NULL", url="NULL"),
     "destinations_ref_matches_kind"),
    ("destination of kind offer with a url too",
     _DESTINATION.format(kind="'offer'", offer="'vpn-us'", lander="NULL", url="'https://x'"),
     "destinations_ref_matches_kind"),
    ("destination of kind url naming a lander",
     _DESTINATION.format(kind="'url'", offer="NULL", lander="'lp-usa'", url="'https://x'"),
     "destinations_ref_matches_kind"),
    ("unknown destination kind",
     _DESTINATION.format(kind="'page'", offer="NULL", lander="NULL", url="'https://x'"),
     "destinations_kind_known"),
    ("destination naming an offer that does not exist",
     _DESTINATION.format(kind="'offer'", offer="'nope'", lander="NULL", url="NULL"),
     "destinations_offer_fkey"),
    ("cross-workspace offer reference",
     _OTHER + _DESTINATION.format(kind="'offer'", offer="'other-offer'", lander="NULL",
                                  url="NULL"),
     "destinations_offer_fkey"),
    ("cross-workspace traffic source",
     _OTHER + "UPDATE campaigns SET traffic_source_id = 'other-src' WHERE id = 'camp-a'",
     "campaigns_traffic_source_fkey"),
    ("cross-workspace offer network",
     _OTHER + "UPDATE offers SET network_id = 'other-net' WHERE id = 'vpn-us'",
     "offers_network_fkey"),
    ("a destination in another workspace than its campaign",
     _OTHER + "UPDATE destinations SET workspace_id = 'other' WHERE id = 'direct'",
     "destinations_rule_fkey"),
    ("CTA offers on an offer destination",
     "INSERT INTO destination_offers VALUES ('summer', 'mobile', 'cleaner', 0, 'acme', "
     "'lander', 'antivirus')", "destination_offers_destination_fkey"),
    ("CTA offers of another kind", "UPDATE destination_offers SET kind = 'offer'",
     "destination_offers_of_landers"),
    ("bad currency", "UPDATE offers SET currency = 'XXX' WHERE id = 'vpn-us'",
     "offers_currency_fkey"),
    ("lower-case currency", "UPDATE workspaces SET currency = 'eur'", "workspaces_currency_fkey"),
    ("negative payout", "UPDATE offers SET payout = -1 WHERE id = 'vpn-us'", "amount_range"),
    ("payout below a micro-unit", "UPDATE offers SET payout = 0.0000001 WHERE id = 'vpn-us'",
     "amount_range"),
    ("daily cap of zero", "UPDATE offers SET daily_cap = 0 WHERE id = 'vpn-us'",
     "offers_daily_cap_positive"),
    ("fallback without a cap", "UPDATE offers SET daily_cap = NULL WHERE id = 'vpn-us'",
     "offers_fallback_needs_cap"),
    ("offer falls back on itself",
     "UPDATE offers SET fallback_offer_id = 'vpn-us' WHERE id = 'vpn-us'",
     "offers_fallback_not_itself"),
    ("lander without a CTA", "UPDATE landers SET cta_count = 0 WHERE id = 'lp-usa'",
     "landers_cta_count_range"),
    ("campaign is its own parent", "UPDATE campaigns SET parent_id = id WHERE id = 'summer'",
     "campaigns_parent_not_itself"),
    ("unknown redirect mode", "UPDATE campaigns SET redirect_mode = '\"308\"'",
     "campaigns_redirect_mode_known"),
    ("301 without opting in", "UPDATE campaigns SET redirect_mode = '301'",
     "campaigns_permanent_opt_in"),
    ("bot url without action url", "UPDATE campaigns SET bot_url = 'https://x' "
     "WHERE bot_action <> 'url'", "campaigns_bot_url"),
    ("revshare over 100 percent",
     "UPDATE campaigns SET cost_model = 'revshare', cost_value = 101",
     "campaigns_revshare_percent"),
    ("attribution window too long", "UPDATE campaigns SET attribution_window_days = 91",
     "campaigns_attribution_window"),
    ("unknown time zone", "UPDATE workspaces SET timezone = 'Mars/Olympus'",
     "workspaces_timezone_known"),
    ("pixel key without origins", "UPDATE workspaces SET pixel_origins = '{}'",
     "workspaces_pixel_pair"),
    ("domain claimed by two workspaces",
     _OTHER + "INSERT INTO workspace_domains VALUES ('acme', 0, 'go.example.com');"
     "INSERT INTO workspace_domains VALUES ('other', 0, 'GO.example.com.')",
     "workspace_domains_domain_key"),
    ("conditions on the default path",
     "INSERT INTO conditions (campaign_id, rule_id, position, kind, value_list) "
     "VALUES ('camp-a', 'default', 0, 'country', '[\"US\"]')", "conditions_not_on_default"),
    ("query condition without a parameter",
     "UPDATE conditions SET kind = 'query' WHERE campaign_id = 'camp-a'",
     "conditions_query_param"),
    ("condition values not scalars", "UPDATE conditions SET value_list = '[[\"US\"]]'",
     "conditions_value_list_shape"),
    ("unknown condition kind", "UPDATE conditions SET kind = 'moon'", "conditions_kind_known"),
    ("token mapped to a list", "UPDATE traffic_sources SET tokens = '{\"sub1\": [\"a\"]}'",
     "traffic_sources_tokens_shape"),
    ("second default path", "UPDATE rules SET position = NULL WHERE id = 'russia'",
     "rules_default_path"),
    ("api key with an unknown role",
     "INSERT INTO api_keys (id, workspace_id, role, key_hash, prefix) VALUES ('k1', 'acme', "
     "'root', sha256('x'), 'tk_1')", "api_keys_role_known"),
    ("api key hash not a sha256",
     "INSERT INTO api_keys (id, workspace_id, role, key_hash, prefix) VALUES ('k1', 'acme', "
     "'viewer', 'x', 'tk_1')", "api_keys_key_hash_sha256"),
    ("api key expiring before it exists",
     "INSERT INTO api_keys (id, workspace_id, role, key_hash, prefix, expires_at) VALUES "
     "('k1', 'acme', 'viewer', sha256('x'), 'tk_1', now() - interval '1 day')",
     "api_keys_expiry_after_creation"),
    ("audit row saying nothing",
     "INSERT INTO audit (actor, action, entity_kind, entity_id) VALUES ('k', 'update', "
     "'offers', 'x')", "audit_before_or_after"),
    ("graph version zero", "INSERT INTO graph_versions (version, actor, manifest) VALUES "
     "(0, 'k', '{}')", "graph_versions_positive"),
    ("graph version with neither manifest nor base", "INSERT INTO graph_versions "
     "(version, actor) VALUES (5, 'k')", "graph_versions_whole_or_delta"),
    ("graph version deeper than 100", "INSERT INTO graph_versions (version, actor, depth, "
     "base) VALUES (2, 'k', 101, 1)", "graph_versions_depth"),
    ("graph document digest", "INSERT INTO graph_documents (digest, section, workspace_id, "
     "document) VALUES ('XYZ', 'campaigns', 'w', '{}')", "graph_documents_digest_format"),
    ("automation rule on an unknown metric",
     _RULE.format(metric="'ctr'", scope="'campaign'", action="'pause'", weight="NULL"),
     "automation_rules_metric_known"),
    ("set_weight without a weight",
     _RULE.format(metric="'roi'", scope="'offer'", action="'set_weight'", weight="NULL"),
     "automation_rules_weight_for_set_weight"),
    ("a weight for a campaign",
     _RULE.format(metric="'roi'", scope="'campaign'", action="'set_weight'", weight="1"),
     "automation_rules_set_weight_scope"),
    ("automation target of another scope than its rule's", _RULE_OK + ";" + _TARGET.format(
        ws="'acme'", scope="'offer'", campaign="NULL", offer="'vpn-us'"),
     "automation_rule_targets_rule_fkey"),
    ("automation target with the fields of another scope", _RULE_OK + ";" + _TARGET.format(
        ws="'acme'", scope="'campaign'", campaign="'camp-a'", offer="'vpn-us'"),
     "automation_rule_targets_shape"),
    ("automation target in another workspace", _OTHER + _CAMPAIGN.format(
        id="o1", ws="other", code="OX", src="other-src") + ";" + _RULE_OK + ";"
     + _TARGET.format(ws="'acme'", scope="'campaign'", campaign="'o1'", offer="NULL"),
     "automation_rule_targets_campaign_fkey"),
    ("automation run ending before it starts", _RULE_OK + ";"
     "INSERT INTO automation_runs (workspace_id, automation_rule_id, at, rule_revision, "
     "dry_run, window_start, window_end, duration_ms) VALUES ('acme', 'r1', now(), 1, false, "
     "now(), now() - interval '1 h', 0)", "automation_runs_window"),
    ("webhook to a non-http URL",
     _ENDPOINT.format(url="'ftp://x'", secret="repeat('s', 20)", events="'{cap.reached}'"),
     "webhook_endpoints_url_http"),
    ("webhook secret too short",
     _ENDPOINT.format(url="'https://x'", secret="'short'", events="'{cap.reached}'"),
     "webhook_endpoints_secret_length"),
    ("webhook on an unknown event",
     _ENDPOINT.format(url="'https://x'", secret="repeat('s', 20)", events="'{cap.gone}'"),
     "webhook_endpoints_events_known"),
    ("webhook delivery of another workspace's notification",
     _ENDPOINT.format(url="'https://x'", secret="repeat('s', 20)", events="'{cap.reached}'")
     + ";INSERT INTO notifications (key, workspace_id, event, data) VALUES ('k', 'other', "
     "'cap.reached', '{}');INSERT INTO webhook_deliveries (notification_id, workspace_id, "
     "endpoint_id, next_attempt_at) SELECT id, 'acme', 'h1', now() FROM notifications",
     "webhook_deliveries_notification_fkey"),
]


@pytest.fixture(scope="module")
def loaded(postgres_url: str) -> str:
    import asyncio

    url = control_database(postgres_url)

    async def load() -> None:
        async with await psycopg.AsyncConnection.connect(url) as conn:
            await import_graph(conn, load_graph(examples.GRAPH))

    asyncio.run(load())
    return url


@pytest.fixture
async def conn(loaded: str) -> AsyncIterator[psycopg.AsyncConnection]:
    async with await psycopg.AsyncConnection.connect(loaded) as c:
        yield c
        await c.rollback()


@pytest.mark.parametrize(("case", "statement", "constraint"), BAD_ROWS,
                         ids=[case for case, _, _ in BAD_ROWS])
async def test_bad_rows_are_refused(conn, case: str, statement: str, constraint: str) -> None:
    with pytest.raises(psycopg.errors.IntegrityError) as refused:
        await conn.execute(statement.encode())
    assert refused.value.diag.constraint_name == constraint, refused.value


@pytest.mark.parametrize("statement", [
    # The same code on a workspace with domains of its own: another tracking domain.
    _OTHER + "INSERT INTO workspace_domains VALUES ('other', 0, 'other.example');"
    + _CAMPAIGN.format(id="o1", ws="other", code="CAMP_A", src="other-src"),
    # Codes moving between two campaigns in one statement.
    "UPDATE campaigns SET code = CASE id WHEN 'camp-a' THEN 'INSTA_SUMMER_01' "
    "ELSE 'CAMP_A' END WHERE id IN ('camp-a', 'summer')",
    _DESTINATION.format(kind="'url'", offer="NULL", lander="NULL", url="'https://x'"),
], ids=["same code on another domain", "codes swapped", "url destination"])
async def test_good_rows_next_to_the_bad_ones_are_accepted(conn, statement: str) -> None:
    await conn.execute(statement.encode())


async def test_every_write_of_an_entity_is_a_new_revision(conn) -> None:
    cursor = await conn.execute("SELECT revision, created_at FROM offers WHERE id = 'vpn-us'")
    assert (await cursor.fetchone())[0] == 1
    await conn.execute("UPDATE offers SET revision = 100, created_at = now() - interval '1 y' "
                       "WHERE id = 'vpn-us'")
    await conn.execute("UPDATE offers SET name = 'VPN' WHERE id = 'vpn-us'")
    cursor = await conn.execute(
        "SELECT revision, updated_at >= created_at FROM offers WHERE id = 'vpn-us'")
    assert await cursor.fetchone() == (3, True)
    await conn.execute(_OTHER.encode())
    await conn.execute("INSERT INTO landers (id, workspace_id, name, url, revision) "
                       "VALUES ('lp-new', 'other', 'L', 'https://l.example.com/', 9)")
    cursor = await conn.execute("SELECT revision FROM landers WHERE id = 'lp-new'")
    assert await cursor.fetchone() == (1,)


async def test_the_currencies_are_those_validation_knows(conn) -> None:
    cursor = await conn.execute("SELECT code FROM currencies")
    assert {row[0] for row in await cursor.fetchall()} == CURRENCIES
