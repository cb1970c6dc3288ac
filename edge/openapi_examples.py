"""The requests the edge's OpenAPI document shows, in the example graph's terms
(config/examples/graph.yaml): its pixel key and origins, its networks' secret and
signing key. tests/unit/edge/test_openapi.py sends every one of them to an edge serving
that graph, so they are requests the code accepts, not prose about it."""

from __future__ import annotations

from typing import Any, Final

from turnout.edge.postback import canonical_query, signature

PIXEL_KEY: Final = "acme-public-pixel-key-01"
PAGE_ORIGIN: Final = "https://shop.example.com"
SECRET: Final = "beta-postback-secret-02"
NETWORK: Final = "beta-net"
HMAC_KEY: Final = "beta-hmac-signing-key-02"
CLICK_ID: Final = "01M7YTY97N5XDD6GE43XBTF5G3"
VISITOR_ID: Final = "01M7YPGTFDDG1FQ9XFWXKVP001"


def signed(params: dict[str, str]) -> dict[str, str]:
    """`params` with their `sig`, as a network's server computes it."""
    return {**params, "sig": signature(HMAC_KEY, params)}


def _how_signed(params: dict[str, str]) -> str:
    return (f"`sig` is the hex HMAC-SHA256, keyed with the network's `hmac_key` "
            f"(`{HMAC_KEY}` here), of the canonical form of every other parameter: sorted by "
            "name then value, names and values percent-encoded (RFC 3986 unreserved "
            "characters kept), `name=value` joined with `&`. Here: "
            f"`{canonical_query(params)}`. Sign values as the strings you send.")


def _example(summary: str, value: Any, description: str = "") -> dict[str, Any]:
    example: dict[str, Any] = {"summary": summary, "value": value}
    if description:
        example["description"] = description
    return example


_SALE: Final = {"type": "conversion", "click_id": CLICK_ID, "payout": "19.90"}
_SERVER_SALE: Final = {**_SALE, "txid": "ORDER-1002", "network": NETWORK}


def events_bodies() -> dict[str, dict[str, Any]]:
    """POST /api/v1/events: example name -> body example."""
    return {
        "browser": _example("A thank-you page reports a sale (pixel key, listed origin)",
                            {"pixel_key": PIXEL_KEY, **_SALE, "txid": "ORDER-1001"}),
        "browser-event": _example(
            "A page reports an event of its visitor, with extra params",
            {"pixel_key": PIXEL_KEY, "event": "signup", "visitor_id": VISITOR_ID,
             "value": "4.50", "params": {"plan": "pro"}}),
        "server-secret": _example(
            "A shop's server reports a sale as its network, with the network's secret",
            {"secret": SECRET, **_SALE, "txid": "ORDER-1002", "status": "approved"}),
        "server-hmac": _example(
            "The same, signed with the network's HMAC key instead",
            signed(_SERVER_SALE), _how_signed(_SERVER_SALE)),
    }


def events_origins() -> dict[str, dict[str, Any]]:
    """The Origin header of the examples sent by a page."""
    return {name: _example("The page's origin, listed in the workspace's pixel_origins",
                           PAGE_ORIGIN) for name in ("browser", "browser-event")}


def pixel_queries() -> dict[str, dict[str, str]]:
    """GET /p.gif: example name -> its query parameters."""
    return {
        "conversion": {"pixel_key": PIXEL_KEY, **_SALE, "txid": "ORDER-1001"},
        "event": {"pixel_key": PIXEL_KEY, "event": "signup", "visitor_id": VISITOR_ID},
    }


def pixel_referer() -> str:
    """An <img> sends no Origin: the edge reads the page's origin from the Referer."""
    return f"{PAGE_ORIGIN}/thank-you?order=1001"


_POSTBACK: Final = {"clickid": CLICK_ID, "payout": "12.50", "txid": "T1"}


def postback_queries() -> dict[str, dict[str, str]]:
    """GET /postback: example name -> its query parameters."""
    return {"secret": {**_POSTBACK, "secret": SECRET},
            "signed": signed({**_POSTBACK, "network": NETWORK, "status": "sale"})}


def postback_bodies() -> dict[str, dict[str, Any]]:
    """POST /postback: example name -> body example (form or JSON alike)."""
    params = {**_POSTBACK, "network": NETWORK, "status": "sale"}
    return {
        "secret": _example("The network's secret", {**_POSTBACK, "secret": SECRET}),
        "signed": _example("Signed with the network's HMAC key (`sale` is one of beta-net's "
                           "status words)", signed(params), _how_signed(params)),
    }
