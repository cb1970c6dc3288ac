"""GET|HEAD /c/{code}: the campaign click. The hot path, as a plain ASGI callable.

No awaits on I/O before the answer: the graph is an attribute read, the decision a pure
function, the event a non-blocking put into the sink. The event is put before the
response is written, so every click that got its redirect is in the sink's hands.
HEAD gets the same status and headers but is never counted.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, Final

from config.compiled import CompiledCampaign, Policy, Target
from config.compiled import CompiledWorkspace as Workspace
from edge import responses, uniques
from edge.clicks import Tokens, click_stub, fill_click, render
from edge.context import CONTEXT_COOKIE, ContextCodec, LanderContext, with_context
from edge.errors import BadInput
from edge.graph import Snapshot
from edge.inputs import cookie, parse_query
from edge.money import click_cost
from edge.observe import VISITOR_COOKIE, Observation, SeenVisitor
from edge.responses import Headers
from edge.runtime import Runtime
from splitter.decide import decide
from turnout.events import TOPIC_CLICKS, Click

log = logging.getLogger(__name__)

Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
HOP_PATH: Final = "/r"
HOP_TTL_MS: Final = 300_000
BOT_RULE: Final = "bot_policy"  # rule id recorded for bots a bot policy sent elsewhere
_YEAR_S: Final = 365 * 86_400
_MAX_CODE: Final = 64
_NO_SLOTS: Final[dict[str, int]] = {}


def cookie_suffix(domain: str, secure: bool) -> str:
    suffix = "; Path=/; SameSite=Lax; HttpOnly"
    if domain:
        suffix += f"; Domain={domain}"
    if secure:
        suffix += "; Secure"
    return suffix


def redirect_by_mode(codec: ContextCodec, mode: str, url: str, headers: Headers, now_ms: int
                     ) -> tuple[int, Headers, bytes]:
    if mode == "double_meta":
        # The first page refreshes to our own signed hop, which refreshes to `url`: the
        # destination sees the hop (or nothing), never the page the visitor came from.
        url = f"{HOP_PATH}?t={codec.hop_token(url, now_ms + HOP_TTL_MS)}"
        mode = "meta"
    return responses.redirect(mode, url, headers)


class ClickHandler:
    def __init__(self, runtime: Runtime) -> None:
        self.rt = runtime
        settings = runtime.settings
        self._suffix = cookie_suffix(settings.cookie_domain, settings.cookie_secure)
        self._visitor_tail = f"; Max-Age={_YEAR_S}{self._suffix}"
        self._stats = runtime.metrics.route("c")
        self._latency = runtime.metrics.redirect_latency
        self._max_query = settings.max_url_bytes
        # Static parts of click events per path of the graph being served, keyed by
        # (campaign, rule, target) identity: valid for one snapshot, dropped on a swap.
        self._stubs: dict[tuple[int, str, int], Click] = {}
        self._stubs_of: Snapshot | None = None

    async def __call__(self, scope: MutableMapping[str, Any], receive: Receive,
                       send: responses.Send) -> None:
        started = time.perf_counter_ns()
        head = scope["method"] == "HEAD"
        status, headers, body = responses.guarded(self.answer, scope, "click handler")
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": b"" if head else body})
        self._stats.count(status)
        self._latency.observe_ns(time.perf_counter_ns() - started)

    def answer(self, scope: MutableMapping[str, Any], head: bool
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
        headers: Headers = []
        if seen.new_visitor:
            headers.append(
                (b"set-cookie",
                 f"{VISITOR_COOKIE}={seen.visitor_id}{self._visitor_tail}".encode())
            )
        code = scope["path"][3:]
        campaign = (
            snapshot.graph.campaigns_by_code.get(code) if len(code) <= _MAX_CODE else None
        )
        if campaign is None:
            return self._fallback(snapshot.fallback_workspace, headers, "unknown campaign")
        tokens = Tokens(params, snapshot.token_slots.get(campaign.traffic_source.id, _NO_SLOTS))
        if not campaign.is_live(now_ms):
            return self._policy(campaign.inactive, campaign, seen, tokens, now_ms, headers,
                                "campaign is not active")
        workspace = campaign.workspace
        bot_reason = seen.bot_reason(snapshot.bot_masks.get(workspace.id, ()))
        if bot_reason and campaign.bot_policy.action != "same":
            click_id = rt.ids.new(now_ms)
            if not head:
                self._emit(click_id, now_ms, campaign, snapshot, BOT_RULE, None, seen, tokens,
                           bot_reason)
            return self._policy(campaign.bot_policy, campaign, seen, tokens, now_ms, headers,
                                "not found", click_id)
        choice = decide(campaign.table, SeenVisitor(seen, params, bool(bot_reason)), now_ms)
        if choice is None:
            return self._fallback(workspace, headers, "no destination available")
        target: Target = choice.destination.payload
        click_id = rt.ids.new(now_ms)
        unique = False
        if not head and not bot_reason:
            unique, remembered = uniques.check(
                cookie(seen.cookies, uniques.UNIQUE_COOKIE), uniques.campaign_key(campaign.id),
                now_ms, campaign.unique_window_ms)
            if remembered is not None:
                headers.append((b"set-cookie", f"{uniques.UNIQUE_COOKIE}={remembered}"
                                f"{self._visitor_tail}".encode()))
        url = render(target.url, click_id, campaign, target, seen, tokens, now_ms)
        if target.next_offers or target.funnel_landers:
            headers.append(self._context_cookie(seen, campaign, LanderContext(
                click_id, campaign.id, snapshot.version, choice.rule_id, target.destination_id,
                0, now_ms)))
        mode = campaign.redirect_mode
        if mode == "302":  # the common case, without the detour through the mode table
            headers.append((b"location", responses.location_bytes(url)))
            headers.append(responses.NO_STORE)
            headers.append(responses.ZERO_LENGTH)
            answer: tuple[int, Headers, bytes] = (302, headers, b"")
        else:
            answer = redirect_by_mode(rt.codec, mode, url, headers, now_ms)
        if not head:
            self._emit(click_id, now_ms, campaign, snapshot, choice.rule_id, target, seen,
                       tokens, bot_reason, unique)
        return answer

    def _emit(self, click_id: str, now_ms: int, campaign: CompiledCampaign, snapshot: Snapshot,
              rule_id: str, target: Target | None, seen: Observation, tokens: Tokens,
              bot_reason: str, unique: bool = False) -> None:
        if snapshot is not self._stubs_of:
            self._stubs = {}
            self._stubs_of = snapshot
        key = (id(campaign), rule_id, id(target))
        stub = self._stubs.get(key)
        if stub is None:
            stub = self._stubs[key] = click_stub(
                kind="click", campaign=campaign, graph_version=snapshot.version,
                rule_id=rule_id, target=target, funnel_step=0,
            )
        event = fill_click(stub, campaign.workspace.raw_ip, click_id, now_ms, seen, tokens,
                           bot_reason, click_cost(campaign.cost_model, tokens.cost))
        event.is_unique = unique
        self.rt.sink.emit(TOPIC_CLICKS, click_id, event)

    def _context_cookie(self, seen: Observation, campaign: CompiledCampaign,
                        context: LanderContext) -> tuple[bytes, bytes]:
        codec = self.rt.codec
        earlier = seen.cookies and codec.decode_contexts(cookie(seen.cookies, CONTEXT_COOKIE))
        token = codec.encode_contexts(with_context(earlier, context) if earlier else [context])
        max_age = campaign.attribution_window_ms // 1000
        return b"set-cookie", f"{CONTEXT_COOKIE}={token}; Max-Age={max_age}{self._suffix}".encode()

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
