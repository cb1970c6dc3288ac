"""GET|HEAD /c/{code}: the campaign click. The hot path, one synchronous `answer()`.

No awaits on I/O before the answer: the graph is an attribute read, the decision a pure
function, the event a non-blocking put into the sink. The event is put before the
response is written, so every click that got its redirect is in the sink's hands.
HEAD gets the same status and location but is never counted and sets no cookie: a
link checker or preview must not leave a visitor, unique or lander context behind.
"""

from __future__ import annotations

import logging
import time
from functools import partial
from typing import Final

from starlette.types import Scope

from turnout.config.compiled import CompiledCampaign, Policy, Target
from turnout.config.compiled import CompiledWorkspace as Workspace
from turnout.edge import responses, uniques
from turnout.edge.clicks import TOKEN_SLOTS, Tokens, click_stub, fill_click, render
from turnout.edge.context import CONTEXT_COOKIE, ContextCodec, LanderContext, with_context
from turnout.edge.errors import BadInput
from turnout.edge.graph import Snapshot
from turnout.edge.inputs import cookie, parse_query
from turnout.edge.limits import BUDGET_EXHAUSTED, CLICK_CAP_REACHED, OFFER_CAPPED, CampaignLimits
from turnout.edge.money import click_cost
from turnout.edge.observe import VISITOR_COOKIE, Observation, SeenVisitor
from turnout.edge.responses import Headers
from turnout.edge.runtime import Runtime
from turnout.edge.sites import Site, Sites
from turnout.events import TOPIC_CLICKS, Click
from turnout.splitter.decide import decide
from turnout.splitter.types import Choice

log = logging.getLogger(__name__)

HOP_PATH: Final = "/r"
HOP_TTL_MS: Final = 300_000
BOT_RULE: Final = "bot_policy"  # rule id recorded for bots a bot policy sent elsewhere
_YEAR_S: Final = 365 * 86_400
_MAX_CODE: Final = 64
# Raw Host spellings remembered per snapshot: clients may send any, so the map is bounded.
_MAX_HOSTS: Final = 1024
_NO_SLOTS: Final[dict[str, int]] = {}
_VISITOR_HEAD: Final = f"{VISITOR_COOKIE}=".encode()
_UNIQUE_HEAD: Final = f"{uniques.UNIQUE_COOKIE}=".encode()
_CONTEXT_HEAD: Final = f"{CONTEXT_COOKIE}=".encode()


def redirect_by_mode(codec: ContextCodec, mode: str, url: str, headers: Headers, now_ms: int
                     ) -> tuple[int, Headers, bytes]:
    if mode == "double_meta":
        # The first page refreshes to our own signed hop, which refreshes to `url`: the
        # destination sees the hop (or nothing), never the page the visitor came from.
        url = f"{HOP_PATH}?t={codec.hop_token(url, now_ms + HOP_TTL_MS)}"
        mode = "meta"
    return responses.redirect(mode, url, headers)


class _Campaign:
    """One campaign of the snapshot being served, with what each of its clicks needs
    looked up once: token slots, bot ranges, unique-cookie key, context-cookie tail, and
    the static part of its click events per path (keyed by the identity of the decided
    Choice, or of None for bots the bot policy sent elsewhere)."""

    __slots__ = ("bot_ranges", "campaign", "context_tail", "keep", "limits", "slots", "stubs",
                 "unique_key")

    def __init__(self, campaign: CompiledCampaign, snapshot: Snapshot, suffix: str) -> None:
        self.campaign = campaign
        # Its budget and click caps (edge.limits); None when it has none to check.
        limits = snapshot.limits
        self.limits = None if limits is None else limits.campaigns.get(campaign.id)
        self.slots = snapshot.token_slots.get(campaign.traffic_source.id, _NO_SLOTS)
        self.bot_ranges = campaign.workspace.bot_index
        # The parameters a lander context keeps when it must shed some: those that fill
        # sub-ids, cost and external_id.
        self.keep = frozenset(self.slots).union(TOKEN_SLOTS)
        self.unique_key = uniques.campaign_key(campaign.id)
        max_age = campaign.attribution_window_ms // 1000
        self.context_tail = f"; Max-Age={max_age}{suffix}".encode()
        self.stubs: dict[int | tuple[int, str], Click] = {}


class _Site:
    """A tracking domain of the snapshot being served, with its cookies' tails and its
    campaigns by code (looked up on first use; unknown codes are not kept)."""

    __slots__ = ("campaigns", "site", "suffix", "visitor_tail")

    def __init__(self, site: Site) -> None:
        self.site = site
        self.suffix = site.cookie_suffix
        self.visitor_tail = f"; Max-Age={_YEAR_S}{self.suffix}".encode()
        self.campaigns: dict[str, _Campaign] = {}


class ClickHandler:
    def __init__(self, runtime: Runtime) -> None:
        self.rt = runtime
        settings = runtime.settings
        self._max_query = settings.max_url_bytes
        self._site_maps = Sites(settings.cookie_domain, settings.cookie_secure)
        # The sites of the graph being served, by raw Host and by Site: valid for one
        # snapshot, dropped on a swap.
        self._sites: dict[bytes, _Site] = {}
        self._states: dict[Site, _Site] = {}
        self._sites_of: Snapshot | None = None

    def answer(self, scope: Scope, head: bool
               ) -> tuple[int, Headers, bytes]:
        rt = self.rt
        now_ms = time.time_ns() // 1_000_000
        snapshot = rt.holder.snapshot
        if snapshot is None:
            return responses.plain(503, "no campaign graph loaded yet")
        if len(scope.get("raw_path", b"")) > self._max_query:
            raise BadInput(414, "URL too long")
        params = parse_query(scope["query_string"], self._max_query)
        seen = rt.observer.observe(scope, now_ms)
        site = self._sites.get(seen.host) if snapshot is self._sites_of else None
        if site is None:
            site = self._site(snapshot, seen.host)
        headers: Headers = []
        if seen.new_visitor and not head:
            headers.append((b"set-cookie",
                            _VISITOR_HEAD + seen.visitor_id.encode() + site.visitor_tail))
        code = scope["path"][3:]
        facts = site.campaigns.get(code)
        if facts is None:
            facts = self._campaign(snapshot, site, code)
            if facts is None:
                return self._fallback(site.site.fallback, headers, "unknown campaign")
        campaign = facts.campaign
        tokens = Tokens(params, facts.slots)
        if not campaign.is_live(now_ms):
            return self._policy(campaign.inactive, campaign, seen, tokens, now_ms, headers,
                                "campaign is not active")
        bot_reason = seen.bot_reason(facts.bot_ranges)
        if bot_reason and campaign.bot_policy.action != "same":
            click_id = rt.ids.new(now_ms)
            if not head:
                self._emit(click_id, now_ms, facts, snapshot, None, seen, tokens, bot_reason)
            return self._policy(campaign.bot_policy, campaign, seen, tokens, now_ms, headers,
                                "not found", click_id)
        choice = decide(campaign.table, SeenVisitor(seen, params, bool(bot_reason)), now_ms)
        if choice is None:
            return self._fallback(campaign.workspace, headers, "no destination available")
        target: Target = choice.destination.payload
        cost = None
        limits = facts.limits
        if limits is not None:
            cost = click_cost(campaign.cost_model, tokens.cost)
            admitted, refusal = self._admit(snapshot, limits, target, cost, now_ms, head)
            if admitted is None:
                if refusal == OFFER_CAPPED:
                    return self._fallback(campaign.workspace, headers, refusal)
                return self._policy(campaign.inactive, campaign, seen, tokens, now_ms, headers,
                                    refusal)
            target = admitted
        click_id = rt.ids.new(now_ms)
        unique = False
        if not head and not bot_reason:
            unique, remembered = uniques.check(
                seen.cookies and cookie(seen.cookies, uniques.UNIQUE_COOKIE), facts.unique_key,
                now_ms, campaign.unique_window_ms)
            if remembered is not None:
                headers.append((b"set-cookie",
                                _UNIQUE_HEAD + remembered.encode() + site.visitor_tail))
        if target.next_offers or target.funnel_landers:
            context = LanderContext(click_id, campaign.id, snapshot.version, choice.rule_id,
                                    choice.destination.id, 0, now_ms, params)
            url = render(target.url, click_id, campaign, target, seen, tokens, now_ms,
                         partial(rt.codec.cid_token, context, facts.keep))
            if not head:
                headers.append(self._context_cookie(seen, facts, context))
        else:
            url = render(target.url, click_id, campaign, target, seen, tokens, now_ms)
        mode = campaign.redirect_mode
        if mode == "302":  # the common case, without the detour through the mode table
            headers += ((b"location", responses.location_bytes(url)), responses.NO_STORE,
                        responses.ZERO_LENGTH)
            answer: tuple[int, Headers, bytes] = (302, headers, b"")
        else:
            answer = redirect_by_mode(rt.codec, mode, url, headers, now_ms)
        if not head:
            self._emit(click_id, now_ms, facts, snapshot, choice, seen, tokens, bot_reason,
                       unique, cost, target)
        return answer

    def _admit(self, snapshot: Snapshot, limits: CampaignLimits, target: Target, cost: int,
               now_ms: int, head: bool) -> tuple[Target | None, str]:
        leases = self.rt.leases
        graph = snapshot.limits
        assert graph is not None  # a campaign has limits only in a snapshot with limits
        if leases is None:  # no meters to lease from: nothing limited is served
            return None, OFFER_CAPPED if target.offer_id in graph.offers else \
                CLICK_CAP_REACHED if limits.budget is None else BUDGET_EXHAUSTED
        return limits.admit(graph, leases, self.rt.days, target, cost, now_ms, not head)

    def _site(self, snapshot: Snapshot, host: bytes) -> _Site:
        """The tracking domain a raw Host names in `snapshot`, kept for its next clicks."""
        if snapshot is not self._sites_of:
            self._sites = {}
            self._states = {}
            self._sites_of = snapshot
        site = self._site_maps.map(snapshot).of_header(host)
        state = self._states.get(site)
        if state is None:
            state = self._states[site] = _Site(site)
        if len(self._sites) >= _MAX_HOSTS:
            self._sites.clear()
        self._sites[host] = state
        return state

    def _campaign(self, snapshot: Snapshot, site: _Site, code: str) -> _Campaign | None:
        """The campaign `code` names on `site`, kept for its next clicks there."""
        campaign = site.site.codes.get(code) if len(code) <= _MAX_CODE else None
        if campaign is None:
            return None
        facts = site.campaigns[code] = _Campaign(campaign, snapshot, site.suffix)
        return facts

    def _emit(self, click_id: str, now_ms: int, facts: _Campaign, snapshot: Snapshot,
              choice: Choice | None, seen: Observation, tokens: Tokens, bot_reason: str,
              unique: bool = False, cost: int | None = None, target: Target | None = None
              ) -> None:
        campaign = facts.campaign
        # A click-capped offer's clicks may go to its fallback: a stub per offer served.
        key: int | tuple[int, str] = id(choice)
        if choice is not None and target is not choice.destination.payload:
            assert target is not None
            key = (id(choice), target.offer_id)
        stub = facts.stubs.get(key)
        if stub is None:
            stub = facts.stubs[key] = click_stub(
                kind="click", campaign=campaign, graph_version=snapshot.version,
                rule_id=BOT_RULE if choice is None else choice.rule_id,
                destination_id="" if choice is None else choice.destination.id,
                target=None if choice is None else target or choice.destination.payload,
                funnel_step=0,
            )
        if cost is None:
            cost = click_cost(campaign.cost_model, tokens.cost)
        event = fill_click(stub, campaign.workspace.raw_ip, click_id, now_ms, seen, tokens,
                           bot_reason, cost)
        event.is_unique = unique
        self.rt.sink.emit(TOPIC_CLICKS, click_id, event)

    def _context_cookie(self, seen: Observation, facts: _Campaign, context: LanderContext
                        ) -> tuple[bytes, bytes]:
        codec = self.rt.codec
        earlier = seen.cookies and codec.decode_contexts(cookie(seen.cookies, CONTEXT_COOKIE))
        token = codec.seal_contexts(with_context(earlier, context) if earlier else [context],
                                    facts.keep)
        return b"set-cookie", _CONTEXT_HEAD + token + facts.context_tail

    def _policy(self, policy: Policy, campaign: CompiledCampaign, seen: Observation,
                tokens: Tokens, now_ms: int, headers: Headers, reason: str, click_id: str = ""
                ) -> tuple[int, Headers, bytes]:
        if policy.action == "url" and policy.url is not None:
            url = render(policy.url, click_id, campaign, None, seen, tokens, now_ms)
            return responses.redirect("302", url, headers)
        return responses.plain(404, reason, headers)

    def _fallback(self, workspace: Workspace | None, headers: Headers, reason: str
                  ) -> tuple[int, Headers, bytes]:
        if workspace is not None and workspace.fallback_url is not None:
            return responses.redirect("302", workspace.fallback_url.render({}), headers)
        return responses.plain(404, reason, headers)
