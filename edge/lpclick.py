"""GET /click, /click/{n} (lander -> offer) and GET /r (the double-meta hop): answers.

/click needs no server state: the signed `tc` cookie set at /c/{code} names the campaign
click, its rule and destination and how far along a funnel the visitor is; `cid` picks
one of the visitor's recent clicks when several landers are open.
"""

from __future__ import annotations

import logging
import time
from typing import Final

from starlette.types import Scope

from turnout import clickid
from turnout.config.compiled import Target
from turnout.edge import responses
from turnout.edge.clicks import Tokens, click_stub, fill_click, render
from turnout.edge.context import CONTEXT_COOKIE, LanderContext, with_context
from turnout.edge.errors import BadInput
from turnout.edge.inputs import cookie, parse_query
from turnout.edge.observe import VISITOR_COOKIE
from turnout.edge.redirect import redirect_by_mode
from turnout.edge.responses import Headers
from turnout.edge.runtime import Runtime
from turnout.edge.sites import Site, Sites
from turnout.events import TOPIC_CLICKS

log = logging.getLogger(__name__)

_MAX_CTA: Final = 99


def cta_number(path: str) -> int:
    """1 for /click, n for /click/n; raises BadInput(404) for anything else."""
    rest = path[len("/click") :].strip("/")
    if not rest:
        return 1
    if rest.isdigit() and len(rest) <= 2 and 1 <= int(rest) <= _MAX_CTA:
        return int(rest)
    raise BadInput(404, "no such CTA")


class LanderClickHandler:
    def __init__(self, runtime: Runtime) -> None:
        self.rt = runtime
        self._sites = Sites(runtime.settings.cookie_domain, runtime.settings.cookie_secure)

    def hop_answer(self, scope: Scope, head: bool
                   ) -> tuple[int, Headers, bytes]:
        params = parse_query(scope["query_string"], self.rt.settings.max_url_bytes)
        url = self.rt.codec.hop_url(params.get("t", ""), time.time_ns() // 1_000_000)
        if url is None:
            raise BadInput(400, "invalid or expired link")
        return responses.redirect("meta", url, [])

    def answer(self, scope: Scope, head: bool
               ) -> tuple[int, Headers, bytes]:
        rt = self.rt
        now_ms = time.time_ns() // 1_000_000
        snapshot = rt.holder.snapshot
        if snapshot is None:
            return responses.plain(503, "no campaign graph loaded yet")
        cta = cta_number(scope["path"])
        params = parse_query(scope["query_string"], rt.settings.max_url_bytes)
        seen = rt.observer.observe(scope, now_ms)
        site = self._sites.map(snapshot).of_header(seen.host)
        contexts = rt.codec.decode_contexts(cookie(seen.cookies, CONTEXT_COOKIE))
        context = _pick(contexts, params.get("cid", ""))
        if context is None:
            return self._refuse(site, 400, "no click to continue (missing or invalid "
                                "click context)")
        campaign = snapshot.graph.campaigns_by_id.get(context.campaign_id)
        target: Target | None = snapshot.targets.get(
            (context.campaign_id, context.rule_id, context.destination_id)
        )
        if campaign is None or target is None:
            return self._refuse(site, 410, "the campaign path of this click is gone")
        following = target.after(context.step, cta)
        if following is None:
            return self._refuse(site, 404, "no such offer on this lander")
        headers: Headers = []
        if seen.new_visitor:
            headers.append((b"set-cookie", f"{VISITOR_COOKIE}={seen.visitor_id}; "
                            f"Max-Age={365 * 86_400}{site.cookie_suffix}".encode()))
        if following.kind == "lander":
            # Another funnel step: move this click's context one step along.
            moved = LanderContext(context.click_id, context.campaign_id, context.graph_version,
                                  context.rule_id, context.destination_id, context.step + 1,
                                  context.ts_ms)
            token = rt.codec.encode_contexts(with_context(contexts, moved))
            max_age = campaign.attribution_window_ms // 1000
            headers.append((b"set-cookie", f"{CONTEXT_COOKIE}={token}; Max-Age={max_age}"
                            f"{site.cookie_suffix}".encode()))
        tokens = Tokens(params, {})
        # The offer gets the campaign click's id: the network's postback names that click.
        url = render(following.url, context.click_id, campaign, following, seen, tokens, now_ms)
        answer = redirect_by_mode(rt.codec, campaign.redirect_mode, url, headers, now_ms)
        if not head:
            lp_click_id = rt.ids.new(now_ms)
            stub = click_stub(kind="lp_click", campaign=campaign,
                              graph_version=context.graph_version, rule_id=context.rule_id,
                              target=following, funnel_step=context.step + 1)
            bot_reason = seen.bot_reason(campaign.workspace.bot_index)
            rt.sink.emit(TOPIC_CLICKS, lp_click_id, fill_click(
                stub, campaign.workspace.raw_ip, lp_click_id, now_ms, seen, tokens, bot_reason,
                0, context.click_id))
        return answer

    def _refuse(self, site: Site, status: int, reason: str) -> tuple[int, Headers, bytes]:
        workspace = site.fallback  # the tracking domain's: never another customer's URL
        if workspace is not None and workspace.fallback_url is not None:
            return responses.redirect("302", workspace.fallback_url.render({}), [])
        return responses.plain(status, reason)


def _pick(contexts: list[LanderContext], cid: str) -> LanderContext | None:
    if not contexts:
        return None
    if not cid:
        return contexts[-1]
    try:
        wanted = clickid.normalize(cid)
    except clickid.ClickIdError:
        return None
    for context in reversed(contexts):
        if context.click_id == wanted:
            return context
    return None
