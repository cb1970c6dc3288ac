"""The OpenAPI 3.1 document of the edge's public endpoints (SPEC §4), served at
GET /openapi.json.

Paths and methods come from the route table (edge.routes): every path of the table has
its operations here, and a path or method without one fails the build (at startup, so in
every test of the edge). Parameters, bodies and answers are those of edge.endpoints,
edge.onsite, edge.postback, edge.redirect and edge.lpclick; the examples
(edge.openapi_examples) are requests the example graph's edge accepts.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Sequence
from typing import Any, Final

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from turnout.edge import openapi_examples as examples
from turnout.edge.context import CONTEXT_COOKIE
from turnout.edge.inputs import MAX_PARAMS
from turnout.edge.observe import VISITOR_COOKIE
from turnout.edge.onsite import TYPES
from turnout.edge.uniques import UNIQUE_COOKIE
from turnout.events import CONVERSION_STATUSES, SUB_SLOTS

Operation = dict[str, Any]
_CONVERTOR = re.compile(r"\{(\w+):\w+\}")


def _ref(kind: str, name: str) -> dict[str, str]:
    return {"$ref": f"#/components/{kind}/{name}"}


def _param(where: str, name: str, description: str, schema: dict[str, Any] | None = None,
           *, required: bool = False, examples: dict[str, Any] | None = None
           ) -> dict[str, Any]:
    param: dict[str, Any] = {"name": name, "in": where, "required": required,
                             "description": description, "schema": schema or _TEXT}
    if examples:
        param["examples"] = examples
    return param


def _named(values: dict[str, dict[str, str]], name: str) -> dict[str, Any]:
    """The Example Objects of parameter `name` across the named requests `values`."""
    return {example: {"value": params[name]} for example, params in values.items()
            if name in params}


_TEXT: Final = {"type": "string"}
_CLICK_ID: Final = _ref("schemas", "ClickId")
_TEXT_BODY: Final = {"text/plain": {"schema": _TEXT}}
_NO_STORE: Final = {"Cache-Control": _ref("headers", "NoStore")}


def _text(description: str) -> dict[str, Any]:
    return {"description": description, "headers": _NO_STORE, "content": _TEXT_BODY}


def _json(description: str, schema: str) -> dict[str, Any]:
    return {"description": description, "headers": _NO_STORE,
            "content": {"application/json": {"schema": _ref("schemas", schema)}}}


_VISITOR_HEADERS: Final = [
    _ref("parameters", name) for name in (
        "Host", "UserAgent", "AcceptLanguage", "Referer", "XForwardedFor", "XForwardedHost",
        "SecPurpose", "VisitorCookie")]
_REDIRECTS: Final = {
    "302": _ref("responses", "Found"),
    "307": _ref("responses", "TemporaryRedirect"),
    "301": _ref("responses", "MovedPermanently"),
    "200": _ref("responses", "MetaRefresh"),
}
_QUICK_FAILURES: Final = {
    "405": _text("Not GET or HEAD (an `Allow` header lists them)"),
    "414": _text("Path or query string longer than the edge's max_url_bytes"),
    "500": _text("A bug: `internal error`, logged; the connection keeps serving"),
    "503": _text("No campaign graph loaded yet"),
}
_CLICK_QUERY: Final = [
    *(_param("query", f"sub{i}", f"Sub-id {i} (a traffic source may map its own name "
                                 "onto it, which then wins)") for i in range(1, SUB_SLOTS + 1)),
    _param("query", "cost", "The click's cost, for the campaign's cost model"),
    _param("query", "external_id", "The traffic source's id of the click"),
    _param("query", "params", f"Any other parameters (at most {MAX_PARAMS} in all): "
                              "kept on the click and available to `{param:name}` macros",
           {"type": "object", "additionalProperties": _TEXT}),
]
_CLICK_QUERY[-1].update(style="form", explode=True)


def _campaign_click() -> dict[str, Operation]:
    return {"get": {
        "summary": "A campaign click: decide a destination and redirect to it",
        "description": "The campaign is the one `code` names on the tracking domain the "
                       "Host header names. The answer follows the campaign's redirect mode. "
                       "A bot the bot policy sends elsewhere gets the policy's URL or a 404.",
        "parameters": [
            _param("path", "code", "The campaign's tracking code", {
                "type": "string", "maxLength": 64}, required=True),
            *_CLICK_QUERY, *_VISITOR_HEADERS,
            _ref("parameters", "UniqueCookie"), _ref("parameters", "ContextCookie")],
        "responses": {**_REDIRECTS,
                      "404": _text("Unknown campaign, campaign not active, no destination "
                                   "available, or a bot the policy refuses (when the "
                                   "workspace has no fallback URL, else a 302 to it)"),
                      **_QUICK_FAILURES}}}


def _lander_click(path_param: bool) -> dict[str, Operation]:
    params: list[Any] = []
    if path_param:
        params.append(_param("path", "n", "Which call to action of the lander (1 is /click)",
                             {"type": "integer", "minimum": 1, "maximum": 99}, required=True))
    return {"get": {
        "summary": "A lander's call to action: continue the visitor's campaign click to "
                   "the next offer or lander of its path",
        "description": "The click's context comes from the signed `tc` cookie, or from a "
                       "signed `cid` (the `{lp_cid}` macro) for a visitor without it. Any "
                       "refusal is a 302 to the tracking domain's fallback URL when it has one.",
        "parameters": [
            *params,
            _param("query", "cid", "A campaign click id (picks one of the cookie's clicks) "
                                   "or a signed click context (`{lp_cid}`)"),
            _param("query", "params", "Other parameters fill what the campaign click "
                                      "left empty", {"type": "object",
                                                     "additionalProperties": _TEXT}),
            *_VISITOR_HEADERS, _ref("parameters", "ContextCookie")],
        "responses": {**_REDIRECTS,
                      "400": _text("No click to continue (missing or invalid click context)"),
                      "404": _text("No such CTA, or no such offer on this lander"),
                      "410": _text("The campaign path of this click is gone, or the click "
                                   "is older than the campaign's attribution window"),
                      **_QUICK_FAILURES}}}


def _hop() -> dict[str, Operation]:
    return {"get": {
        "summary": "The second page of a double-meta redirect",
        "parameters": [_param("query", "t", "The signed hop token the first page links to",
                              required=True)],
        "responses": {"200": _ref("responses", "MetaRefresh"),
                      "400": _text("Invalid or expired link"),
                      # It reads no graph, so it answers before one is loaded.
                      **{k: v for k, v in _QUICK_FAILURES.items() if k != "503"}}}}


_REFUSED: Final = "Bad input, with its reason; never a 5xx, which networks would retry"


def _postback() -> dict[str, Operation]:
    queries = examples.postback_queries()
    names = ["clickid", "cid", "subid", "secret", "network", "sig", "txid", "status", "event",
             "payout", "currency"]
    params = [_param("query", name, _POSTBACK_FIELDS[name][1], _POSTBACK_FIELDS[name][0],
                     examples=_named(queries, name)) for name in names]
    responses = {
        "200": _json("Accepted (duplicates too: ingest dedupes them)", "PostbackAccepted"),
        "400": _json(_REFUSED, "Rejected"),
        "401": _json("Neither a secret nor a network and sig", "Rejected"),
        "403": _json("Unknown secret or network, bad signature, or an address outside the "
                     "network's ip_allowlist", "Rejected"),
        "410": _json("The click id is older than the attribution window", "Rejected"),
        "413": _json("Body larger than the edge's max_body_bytes", "Rejected"),
        "414": _json("URL longer than the edge's max_url_bytes", "Rejected"),
        "503": _json("No campaign graph loaded yet: retry", "Unavailable"),
    }
    get = {"summary": "A network reports a conversion of one of our click ids",
           "description": "Authenticated by the network's `secret`, or by `network` + `sig`. "
                          "The click id is checked from the id alone (format, and a timestamp "
                          "within the attribution window): no lookup.",
           "parameters": params, "responses": responses}
    body = {"type": "object", "properties": {
        name: field[0] for name, field in _POSTBACK_FIELDS.items()},
        "additionalProperties": {"type": ["string", "number"]}}
    bodies = examples.postback_bodies()
    post = {**get, "summary": "The same as GET, with the parameters in a body (which wins "
                              "over the query)",
            "requestBody": {"content": {
                "application/x-www-form-urlencoded": {"schema": body, "examples": bodies},
                "application/json": {"schema": {**body, "description": "An object of "
                                                       "strings and numbers"},
                                     "examples": bodies}}}}
    post["responses"] = {**responses, "400": _json(
        f"{_REFUSED}; a JSON body that is not an object of strings and numbers",
        "Rejected")}
    return {"get": get, "post": post}


_AMOUNT: Final = {"type": "string", "pattern": r"^[0-9]+(\.[0-9]+)?$"}
_EVENT_NAME: Final = {"type": "string", "pattern": r"^[A-Za-z0-9_.:-]{1,64}$"}
# What a conversion that names no currency is in (ingest decides: ingest/attribution.py).
_UNNAMED_CURRENCY: Final = ("omitted: the currency the click's offer pays in (also when "
                            "payout is omitted: the offer's default is in it); the workspace "
                            "currency when no click is found")
_POSTBACK_FIELDS: Final = {
    "clickid": (_CLICK_ID, "The click id (`cid` and `subid` are aliases)"),
    "cid": (_CLICK_ID, "Alias of clickid"),
    "subid": (_CLICK_ID, "Alias of clickid"),
    "secret": (_TEXT, "The network's secret"),
    "network": (_TEXT, "The network's id, with `sig`"),
    "sig": ({"type": "string", "pattern": "^[0-9a-fA-F]{64}$"},
            "Hex HMAC-SHA256 of the canonical query (see the `signed` example)"),
    "txid": ({"type": "string", "maxLength": 128},
             "The conversion's identity with its click (printable characters)"),
    "status": (_TEXT, f"One of {', '.join(CONVERSION_STATUSES)} or the network's own "
                      "status words; default approved"),
    "event": (_EVENT_NAME, "The conversion's event; default sale"),
    "payout": (_AMOUNT, "Decimal amount; omitted: the click's offer default payout"),
    "currency": ({"type": "string", "pattern": "^[A-Za-z]{3}$"},
                 f"ISO 4217; {_UNNAMED_CURRENCY}"),
}
_ONSITE_FIELDS: Final = {
    "pixel_key": (_TEXT, "A page: the workspace's public pixel key"),
    "secret": (_TEXT, "A server (events API only): a network's secret"),
    "network": (_TEXT, "A server (events API only): a network's id, with `sig`"),
    "sig": (_POSTBACK_FIELDS["sig"][0], "Hex HMAC-SHA256 of the canonical form of every "
                                        "other string or number field (the `server-hmac` "
                                        "example)"),
    "type": ({"type": "string", "enum": list(TYPES), "default": "event"},
             "Only `conversion` makes a conversion"),
    "click_id": (_CLICK_ID, "The click it belongs to (`cid` is an alias); this, "
                            "`visitor_id` or the `tv` cookie is required"),
    "cid": (_CLICK_ID, "Alias of click_id"),
    "visitor_id": (_CLICK_ID, "The visitor (else the `tv` cookie): last touch in the workspace"),
    "campaign_id": (_TEXT, "Narrows last touch to one campaign of the workspace"),
    "event": (_EVENT_NAME, "Conversion: default sale; event: default pageview (`name` is an "
                           "alias)"),
    "name": (_EVENT_NAME, "Alias of event"),
    "payout": (_AMOUNT, "Conversions only; omitted: the click's offer default payout"),
    "currency": (_POSTBACK_FIELDS["currency"][0], f"Conversions only; {_UNNAMED_CURRENCY}"),
    "status": (_TEXT, "Conversions only; default approved; servers: the network's words too"),
    "txid": (_POSTBACK_FIELDS["txid"][0], "Conversions only"),
    "value": (_AMOUNT, "Events only: the event's value"),
}
_ONSITE_REFUSALS: Final = {
    "400": "Malformed field, unknown type, money fields on an event, a campaign_id of another "
           "workspace, or neither click id nor visitor",
    "401": "Neither a pixel_key nor a network secret or signature",
    "403": "Unknown key or secret, bad signature, origin not in the workspace's pixel_origins, "
           "address outside the network's ip_allowlist, or a network secret on the pixel",
    "413": "Body larger than the edge's max_body_bytes",
}


def _origin_headers(origin_examples: dict[str, Any] | None = None) -> list[Any]:
    return [
        _param("header", "Origin", "The page's origin; must be in the workspace's "
                                   "pixel_origins (pages only)", examples=origin_examples),
        _param("header", "Referer", "Its scheme://host[:port] stands for a missing Origin "
                                    "(an <img> sends none)", examples=None),
        _ref("parameters", "VisitorCookie")]


def _pixel() -> dict[str, Operation]:
    queries = examples.pixel_queries()
    names = [n for n in _ONSITE_FIELDS if n not in ("secret", "network", "sig")]
    referer = {name: {"value": examples.pixel_referer()} for name in queries}
    headers = _origin_headers()
    headers[1] = {**headers[1], "examples": referer}
    responses = {"200": {"description": "Recorded: a 1x1 GIF", "headers": _NO_STORE,
                         "content": {"image/gif": {"schema": {
                             "type": "string", "contentMediaType": "image/gif"}}}},
                 **{status: _text(what) for status, what in _ONSITE_REFUSALS.items()},
                 "414": _text("URL longer than the edge's max_url_bytes"),
                 "503": _text("No campaign graph loaded yet")}
    return {"get": {
        "summary": "A page's pixel: an event or a conversion of its visitor",
        "description": "For an <img> on a page. The reason of a refusal is plain text.",
        "parameters": [*(_param("query", name, _ONSITE_FIELDS[name][1], _ONSITE_FIELDS[name][0],
                                examples=_named(queries, name)) for name in names), *headers],
        "responses": responses}}


def _events() -> dict[str, Operation]:
    body = {"$ref": "#/components/schemas/EventsBody"}
    bodies = examples.events_bodies()
    return {"post": {
        "summary": "An event or a conversion, from a page (pixel key) or a server "
                   "(a network's secret or signature)",
        "description": "The body is read as JSON whatever its content type (sendBeacon "
                       "posts text/plain); the query string is not read. An example's "
                       "Origin header has the example's name.",
        "parameters": _origin_headers(examples.events_origins()),
        "requestBody": {"required": True, "content": {
            "application/json": {"schema": body, "examples": bodies},
            "text/plain": {"schema": body}}},
        "responses": {
            "202": _json("Accepted", "EventAccepted"),
            **{status: _json(what + (" (or a body that is not a JSON object, or `params` "
                                     "that is not one)" if status == "400" else ""),
                             "Rejected") for status, what in _ONSITE_REFUSALS.items()},
            "503": _json("No campaign graph loaded yet", "Unavailable")}}}


def _plain_get(summary: str, answers: dict[str, str], media: str = "text/plain"
               ) -> dict[str, Operation]:
    return {"get": {"summary": summary, "responses": {
        status: {"description": what, "headers": _NO_STORE,
                 "content": {media: {"schema": _TEXT}}} for status, what in answers.items()}}}


def _openapi() -> dict[str, Operation]:
    return {"get": {"summary": "This document", "responses": {"200": {
        "description": "OpenAPI 3.1", "content": {"application/json": {
            "schema": {"type": "object"}}}}}}}


_PATHS: Final = {
    "/c/{code:path}": _campaign_click,
    "/click": lambda: _lander_click(False),
    "/click/{n:path}": lambda: _lander_click(True),
    "/r": _hop,
    "/postback": _postback,
    "/p.gif": _pixel,
    "/api/v1/events": _events,
    "/healthz": lambda: _plain_get("Liveness", {"200": "`ok`"}),
    "/readyz": lambda: _plain_get("Readiness: a graph loaded and the event sink running", {
        "200": "`ready: graph version <n>`", "503": "No graph loaded, or the sink not running"}),
    "/metrics": lambda: _plain_get("Prometheus metrics", {"200": "Text exposition format"},
                                   "text/plain; version=0.0.4"),
    "/openapi.json": _openapi,
}


def _head(get: Operation) -> Operation:
    """HEAD: GET's answer without its body. The click paths record nothing and set no
    cookie for it (a link checker must not leave a visitor behind)."""
    head = copy.deepcopy(get)
    head["summary"] = f"HEAD of: {get['summary']}"
    for name, response in head["responses"].items():
        if "$ref" in response:
            head["responses"][name] = {"description": f"As GET ({response['$ref']}), "
                                                      "without a body"}
        else:
            response.pop("content", None)
    return head


def openapi_path(path: str) -> str:
    """A table path in OpenAPI's syntax: `/c/{code:path}` -> `/c/{code}`."""
    return _CONVERTOR.sub(r"{\1}", path)


def openapi_document(routes: Iterable[tuple[str, Sequence[str]]]) -> dict[str, Any]:
    """The document of the table's (path, methods); raises ValueError for a path or a
    method it has no description of."""
    paths: dict[str, Any] = {}
    for path, methods in routes:
        describe = _PATHS.get(path)
        if describe is None:
            raise ValueError(f"{path}: a route without a description in edge.openapi")
        operations = describe()
        item: dict[str, Operation] = {}
        for method in (m.lower() for m in methods):
            if method == "head" and "head" not in operations and "get" in operations:
                item["head"] = _head(operations["get"])
            elif method in operations:
                item[method] = operations[method]
            else:
                raise ValueError(f"{path}: {method.upper()} has no description in edge.openapi")
        paths[openapi_path(path)] = item
    return {"openapi": "3.1.0",
            "info": {"title": "turnout edge", "version": "1", "description": _ABOUT},
            "paths": paths, "components": _components()}


_ABOUT: Final = (
    "The public endpoints of the edge: clicks and their redirects, lander clicks, "
    "postbacks, the pixel and the events API, health and metrics. Examples of one name "
    "across an operation's parameters and body form one request, in the terms of the "
    "example graph (config/examples/graph.yaml). The report API's document is served by "
    "`turnout api` at its own /openapi.json.")


def _cookie_param(name: str, description: str) -> dict[str, Any]:
    return _param("cookie", name, description)


def _redirect(description: str) -> dict[str, Any]:
    return {"description": description, "headers": {
        "Location": {"description": "The destination URL, its macros filled",
                     "schema": _TEXT, "required": True},
        "Set-Cookie": _ref("headers", "SetCookie"), **_NO_STORE}}


def _components() -> dict[str, Any]:
    events_body = {
        "type": "object",
        "properties": {**{name: field[0] for name, field in _ONSITE_FIELDS.items()},
                       "params": {"type": "object", "additionalProperties": _TEXT,
                                  "description": "Events only: up to 32 extra strings kept "
                                                 "on the event"}},
        "additionalProperties": True,
        "description": "Strings and numbers count (and are signed); other fields but "
                       "`params` are ignored. Field meanings as on the pixel.",
    }
    return {
        "schemas": {
            "ClickId": {"type": "string", "minLength": 26, "maxLength": 26,
                        "pattern": "^[0-7][0-9A-HJKMNP-TV-Za-hjkmnp-tv-z]{25}$",
                        "description": "26 characters of Crockford base32, timestamp first"},
            "Rejected": {"type": "object", "required": ["status", "reason"], "properties": {
                "status": {"const": "rejected"}, "reason": _TEXT}},
            "Unavailable": {"type": "object", "required": ["status", "reason"],
                            "properties": {"status": {"const": "unavailable"},
                                           "reason": _TEXT}},
            "PostbackAccepted": {"type": "object", "required": ["status", "conversion_id"],
                                 "properties": {"status": {"const": "accepted"},
                                                "conversion_id": _TEXT}},
            "EventAccepted": {"type": "object", "required": ["status", "id"], "properties": {
                "status": {"const": "accepted"},
                "id": {"type": "string", "description": "The event's or conversion's id"}}},
            "EventsBody": events_body,
        },
        "parameters": {
            "Host": _param("header", "Host", "The tracking domain: it picks the campaign codes "
                                             "and cookie scope"),
            "UserAgent": _param("header", "User-Agent", "Device, OS, browser; bots"),
            "AcceptLanguage": _param("header", "Accept-Language", "The visitor's language"),
            "Referer": _param("header", "Referer", "Its domain is recorded"),
            "XForwardedFor": _param("header", "X-Forwarded-For", "The visitor's address, "
                                                                 "from trusted proxies only"),
            "XForwardedHost": _param("header", "X-Forwarded-Host", "The tracking domain, "
                                                                   "from trusted proxies only"),
            "SecPurpose": _param("header", "Sec-Purpose", "`prefetch` marks a prefetch, not "
                                                          "a person (`Purpose` too)"),
            "VisitorCookie": _cookie_param(VISITOR_COOKIE, "The visitor id; set on first "
                                                           "click for a year"),
            "UniqueCookie": _cookie_param(UNIQUE_COOKIE, "When this visitor last made a unique "
                                                         "click, per campaign"),
            "ContextCookie": _cookie_param(CONTEXT_COOKIE, "Signed contexts of the visitor's "
                                                           "recent clicks that have a lander"),
        },
        "headers": {
            "NoStore": {"schema": {"const": "no-store"}},
            "SetCookie": {"description": f"`{VISITOR_COOKIE}`, `{UNIQUE_COOKIE}`, "
                                         f"`{CONTEXT_COOKIE}` as needed (never for HEAD)",
                          "schema": _TEXT},
        },
        "responses": {
            "Found": _redirect("The destination (redirect mode 302, the default; "
                                      "also fallback and bot-policy URLs)"),
            "TemporaryRedirect": _redirect("The destination (redirect mode 307)"),
            "MovedPermanently": _redirect("The destination (redirect mode 301: "
                                                 "browsers cache it)"),
            "MetaRefresh": {"description": "Redirect modes meta and double_meta: a page that "
                                           "refreshes to the destination (or to /r), sending "
                                           "no referrer",
                            "headers": {**_NO_STORE, "Set-Cookie": _ref("headers", "SetCookie")},
                            "content": {"text/html; charset=utf-8": {"schema": _TEXT}}},
        },
    }


class OpenApiEndpoint:
    """GET /openapi.json: the document of a route table, encoded once at startup."""

    def __init__(self) -> None:
        self._body = b""

    def describe(self, routes: Iterable[tuple[str, Sequence[str]]]) -> None:
        self._body = msgspec.json.encode(openapi_document(routes))

    async def serve(self, request: Request) -> Response:
        return Response(self._body, media_type="application/json")
