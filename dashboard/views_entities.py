"""Offers, landers, funnels, traffic sources and networks as tables (secrets shown as
***; views_entity_editor.py edits them), and the postback URL
builder of a network (its secret, or its HMAC signing instructions)."""

from __future__ import annotations

from typing import Final

from starlette.responses import Response
from starlette.routing import Route

from turnout.dashboard.entity_form import FORMS
from turnout.dashboard.web import Handler, Refused, Visit, page

# segment -> (title, the columns shown: (field, label)).
KINDS: Final = {
    "offers": ("Offers", (("name", "Name"), ("id", "Id"), ("network", "Network"),
                          ("payout", "Payout"), ("currency", "Currency"),
                          ("daily_cap", "Daily conv. cap"),
                          ("daily_click_cap", "Daily click cap"),
                          ("fallback_offer", "Fallback"), ("url", "URL"))),
    "landers": ("Landers", (("name", "Name"), ("id", "Id"), ("cta_count", "CTAs"),
                            ("url", "URL"))),
    "funnels": ("Funnels", (("name", "Name"), ("id", "Id"), ("landers", "Landers"),
                            ("offers", "Offers"))),
    "traffic-sources": ("Traffic sources", (("name", "Name"), ("id", "Id"),
                                            ("tokens", "Tokens"),
                                            ("postback_url", "Postback URL"),
                                            ("postback_statuses", "Reported statuses"),
                                            ("payout_percent", "Payout %"),
                                            ("postback_percent", "Postback %"))),
    "networks": ("Networks", (("name", "Name"), ("id", "Id"), ("secret", "Secret"),
                              ("hmac_key", "HMAC key"), ("statuses", "Statuses"),
                              ("ip_allowlist", "IP allowlist"))),
}
# The parameters of /postback a network fills with its own macros.
POSTBACK_PARAMS: Final = (("clickid", "the click id you passed in the offer URL",
                           "{clickid}"),
                          ("payout", "the payout", "{payout}"),
                          ("currency", "its currency, when not the offer's", ""),
                          ("status", "its status word (mapped by the network's statuses)",
                           "{status}"),
                          ("txid", "the transaction id (repeats are not counted twice)",
                           "{txid}"))


def _entity_page(segment: str) -> Handler:
    title, columns = KINDS[segment]

    @page
    async def listing(visit: Visit) -> Response:
        params = {"limit": "1000", "sort": "name"}
        query = visit.request.query_params.get("q")
        if query:
            params["q"] = query
        found = await visit.get(f"/api/v1/{segment}", params)
        return await visit.render("entities.html", title=title, segment=segment,
                                  singular=FORMS[segment].singular,
                                  columns=columns, items=found["items"], q=query or "")

    listing.__name__ = f"list_{segment.replace('-', '_')}"
    return listing


@page
async def postback_builder(visit: Visit) -> Response:
    network_id = str(visit.request.path_params["id"])
    network = await visit.get(f"/api/v1/networks/{network_id}")
    if not visit.can("editor"):
        raise Refused(403, "a network's postback secret is shown to editor keys and up")
    return await visit.render("postback.html", network=network, params=POSTBACK_PARAMS,
                              origin=f"{visit.request.url.scheme}://{visit.request.url.netloc}")


ROUTES = [
    *(Route(f"/{segment}", _entity_page(segment), methods=["GET"]) for segment in KINDS),
    Route("/networks/{id}/postback", postback_builder, methods=["GET"]),
]
