"""GET /click, /click/{n} (lander -> offer) and GET /r (the double-meta hop): answers.

/click needs no server state: the signed `tc` cookie set at /c/{code} names the campaign
click, its rule and destination, how far along a funnel the visitor is and the click's
query; `cid` picks one of the visitor's recent clicks when several landers are open. A
visitor without the cookie continues with the signed `cid` the lander URL got through
`{lp_cid}`: the same context, checked by its MAC, so the offer is still only ever one of
the campaign's own (docs/decisions.md).

The LP click is stored under the lander the visitor clicked on and the offer it goes to,
with the campaign click's sub-ids and values; HEAD sets no cookie and records nothing.
A CTA offer with a daily click cap spends from its lease (edge.limits) and hands its click to
its fallback when the cap is out (or answers 404 without one).
"""

from __future__ import annotations

import logging
import time
from typing import Final

import msgspec
from starlette.types import Scope

from turnout import clickid
from turnout.config.compiled import Target
from turnout.edge import responses
from turnout.edge.clicks import TOKEN_SLOTS, Tokens, click_stub, fill_click, render
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
_NO_SLOTS: Final[dict[str, int]] = {}


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
        cid = params.pop("cid", "")
        contexts = rt.codec.decode_contexts(cookie(seen.cookies, CONTEXT_COOKIE))
        # A signed cid carries its own context and wins over the cookie's.
        context = rt.codec.decode_cid(cid) if "." in cid else _pick(contexts, cid)
        if context is None:
            return self._refuse(site, 400, "no click to continue (missing or invalid "
                                "click context)")
        campaign = snapshot.graph.campaigns_by_id.get(context.campaign_id)
        target: Target | None = None if campaign is None else campaign.target(
            context.rule_id, context.destination_id)
        if campaign is None or target is None:
            return self._refuse(site, 410, "the campaign path of this click is gone")
        if now_ms - context.ts_ms > campaign.attribution_window_ms:
            # The cookie expires then; a signed cid in an old page must not outlive it.
            return self._refuse(site, 410, "this click is too old to continue")
        following = target.after(context.step, cta)
        if following is None:
            return self._refuse(site, 404, "no such offer on this lander")
        limits = snapshot.limits
        if following.offer_id and limits is not None and following.offer_id in limits.offers:
            # The CTA offer's daily click cap, as on /c/{code}: its fallback when it is out.
            served = None if rt.leases is None else limits.serving(
                following.offer_id, rt.leases, rt.days, now_ms, not head)[0]
            if served is None:
                return self._refuse(site, 404, "offer click cap reached")
            following = served
        slots = snapshot.token_slots.get(campaign.traffic_source.id, _NO_SLOTS)
        keep = frozenset(slots).union(TOKEN_SLOTS)
        headers: Headers = []
        if seen.new_visitor and not head:
            headers.append((b"set-cookie", f"{VISITOR_COOKIE}={seen.visitor_id}; "
                            f"Max-Age={365 * 86_400}{site.cookie_suffix}".encode()))
        next_cid = None
        if following.kind == "lander":
            # Another funnel step: move this click's context one step along.
            moved = msgspec.structs.replace(context, step=context.step + 1)
            next_cid = lambda: rt.codec.cid_token(moved, keep)  # noqa: E731
            if not head:
                token = rt.codec.encode_contexts(with_context(contexts, moved), keep)
                max_age = campaign.attribution_window_ms // 1000
                headers.append((b"set-cookie", f"{CONTEXT_COOKIE}={token}; "
                                f"Max-Age={max_age}{site.cookie_suffix}".encode()))
        # The campaign click's values first; the CTA's own query fills what they leave.
        tokens = Tokens({**params, **context.params} if params else context.params, slots)
        # The offer gets the campaign click's id: the network's postback names that click.
        url = render(following.url, context.click_id, campaign, following, seen, tokens, now_ms,
                     next_cid)
        answer = redirect_by_mode(rt.codec, campaign.redirect_mode, url, headers, now_ms)
        if not head:
            lp_click_id = rt.ids.new(now_ms)
            stub = click_stub(kind="lp_click", campaign=campaign,
                              graph_version=context.graph_version, rule_id=context.rule_id,
                              destination_id=context.destination_id, target=following,
                              funnel_step=context.step + 1)
            # Reported under the lander it was made on and the offer it leads to.
            stub.lander_id = lander_at(target, context.step)
            stub.funnel_id = target.funnel_id
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


def lander_at(target: Target, step: int) -> str:
    """The lander a visitor is on after `step` lander clicks down `target`'s path."""
    if step == 0:
        return target.lander_id
    if step <= len(target.funnel_landers):
        return target.funnel_landers[step - 1].lander_id
    return ""


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
