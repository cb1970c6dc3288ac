"""The OpenAPI 3.1 document of the report API, generated from the same whitelists the
endpoints enforce (dimensions, metrics, statuses), so it cannot drift from them."""

from __future__ import annotations

from typing import Any, Final

from turnout.events import CONVERSION_STATUSES
from turnout.reports.ab import CONTROLS
from turnout.reports.dimensions import DIMENSIONS
from turnout.reports.metrics import DEFAULT_METRICS, METRICS
from turnout.reports.spec import DEFAULT_DAYS, DEFAULT_LIMIT, MAX_FILTER_VALUES, MAX_LIMIT

_DIMENSION = {"type": "string", "enum": list(DIMENSIONS)}
# What reports.spec.parse_range reads: `all`, or a date or local time with an optional
# offset in the years ClickHouse stores (1900-2298). A day past its month's end (02-31) and
# `from` after `to` are 400s the pattern cannot say.
_DAY = (r"(19[0-9]{2}|2[01][0-9]{2}|22[0-8][0-9]|229[0-8])-(0[1-9]|1[0-2])"
        r"-(0[1-9]|[12][0-9]|3[01])")
_TIME = (r"T([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{1,6})?)?"
         r"(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])?")
INSTANT = {"type": "string", "pattern": f"^(all|{_DAY}({_TIME})?)$"}
_ID = {"type": "string", "minLength": 1}
# A filter's values as reports.spec.parse_filters reads them: typed per dimension, a string
# with something besides spaces and no comma (the list's separator).
_FILTER_ITEMS: Final = {
    "UInt8": {"type": "integer", "minimum": 0, "maximum": 255},
    "UInt64": {"type": "integer", "minimum": 0},
    "Date": {"type": "string", "format": "date"},
    "String": {"type": "string", "pattern": r"^[^,]*[^,\s][^,]*$"},
}


def _filter(param_type: str) -> dict[str, Any]:
    return {**_list(_FILTER_ITEMS[param_type]), "minItems": 1, "maxItems": MAX_FILTER_VALUES}
_METRIC = {"type": "string", "enum": list(METRICS)}


def _param(name: str, description: str, schema: dict[str, Any], required: bool = False,
           explode: bool | None = None) -> dict[str, Any]:
    param: dict[str, Any] = {"name": name, "in": "query", "required": required,
                             "description": description, "schema": schema}
    if explode is not None:
        param.update(style="form", explode=explode)
    return param


def _list(item: dict[str, Any]) -> dict[str, Any]:
    return {"type": "array", "items": item}


def _common() -> list[dict[str, Any]]:
    return [
        _param("workspace", "Workspace id; defaults to the key's workspace (another is 403)",
               {"type": "string"}),
        _param("from", f"Start, workspace-local: YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS][offset];"
                       f" `all` for no bound. Default: {DEFAULT_DAYS} days ago",
               INSTANT),
        _param("to", "End, workspace-local; a date includes that whole day, a time is "
                     "exclusive. Default: open", INSTANT),
        _param("tz", "IANA time zone overriding the workspace's", {"type": "string"}),
        _param("statuses", "Conversion statuses counted by `conversions` (comma list)",
               _list({"type": "string", "enum": list(CONVERSION_STATUSES)}), explode=False),
        _param("include_bots", "Count bot clicks and their conversions",
               {"type": "boolean", "default": False}),
        _param("rollup", "`parent`: count child campaigns under their parent campaign",
               {"type": "string", "enum": ["none", "parent"], "default": "none"}),
        _param("metrics", f"Metrics (comma list). Default: {','.join(DEFAULT_METRICS)}",
               _list(_METRIC), explode=False),
        *(_param(f"f.{name}", f"Keep rows whose {name} is one of these (comma list)",
                 _filter(dimension.param_type), explode=False)
          for name, dimension in DIMENSIONS.items()),
    ]


def _format() -> dict[str, Any]:
    return _param("format", "json (money as decimal strings) or csv",
                  {"type": "string", "enum": ["json", "csv"], "default": "json"})


def _responses(schema: str, csv: bool = True) -> dict[str, Any]:
    ref = {"$ref": f"#/components/schemas/{schema}"}
    content: dict[str, Any] = {"application/json": {"schema": ref}}
    if csv:
        content["text/csv"] = {"schema": {"type": "string"}}
    error = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    return {
        "200": {"description": "The report", "content": content},
        "400": {"description": "A parameter is unknown or malformed", "content": error},
        "401": {"description": "Missing or unknown API key", "content": error},
        "403": {"description": "The key belongs to another workspace", "content": error},
        "503": {"description": "ClickHouse did not answer, or the workspace's time zone and "
                               "currency are not known (no graph loaded from Redis)",
                "content": error},
    }


def _operation(summary: str, params: list[dict[str, Any]], schema: str,
               csv: bool = True) -> dict[str, Any]:
    return {"get": {"summary": summary, "security": [{"bearer": []}],
                    "parameters": params, "responses": _responses(schema, csv)}}


def openapi_document() -> dict[str, Any]:
    cell = {"type": ["string", "integer", "null"]}
    report = {
        "type": "object",
        "required": ["columns", "rows"],
        "properties": {
            "workspace": {"type": "string"}, "timezone": {"type": "string"},
            "currency": {"type": "string",
                         "description": "The workspace currency: every money column is in it"},
            "held_conversions": {"type": ["integer", "null"],
                                 "description": "Conversions of this report whose money is "
                                                "held (no exchange rate for their currency "
                                                "and day; see /api/v1/held); null when the "
                                                "report sums no conversion money"},
            "from": {"type": ["string", "null"], "format": "date-time"},
            "to": {"type": ["string", "null"], "format": "date-time"},
            "columns": _list({"type": "object", "properties": {
                "name": {"type": "string"},
                "role": {"type": "string", "enum": ["dimension", "name", "metric"]},
                "kind": {"type": ["string", "null"],
                         "enum": ["count", "money", "money_rate", "percent", None]}}}),
            "rows": _list({"type": "object", "additionalProperties": cell,
                           "description": "Counts are integers; money and ratios are "
                                          "decimal strings; null when a denominator is 0"}),
            "totals": {"type": ["object", "null"], "additionalProperties": cell},
        },
    }
    arm = {"type": "object", "properties": {
        "destination": {"type": "string"}, "clicks": {"type": "integer"},
        "conversions": {"type": "integer"}, "cr": {"type": "number"},
        "role": {"type": "string", "enum": ["control", "variant"]},
        "status": {"type": "string", "enum": ["ok", "insufficient_data"]},
        "lift": {"type": ["number", "null"], "description": "percent vs control"},
        "difference": {"type": "number", "description": "percentage points"},
        "z": {"type": ["number", "null"]}, "p_value": {"type": ["number", "null"]},
        "ci_low": {"type": "number"}, "ci_high": {"type": "number"},
        "significant": {"type": "boolean"}}}
    ab = {"type": "object", "properties": {
        "campaign": {"type": "string"}, "rule": {"type": "string"},
        "control": {"type": "string"}, "confidence": {"type": "number"},
        "min_clicks": {"type": "integer"}, "min_conversions": {"type": "integer"},
        "arms": _list(arm)}}
    common = _common()
    return {
        "openapi": "3.1.0",
        "info": {"title": "turnout report API", "version": "1",
                 "description": "Clicks, conversions, revenue, cost and ROI from ClickHouse."},
        "paths": {
            "/healthz": {"get": {"summary": "Liveness", "responses": {
                "200": {"description": "Serving"}}}},
            "/api/v1/report": _operation("Metrics grouped by dimensions", [
                *common, _format(),
                _param("group_by", "Dimensions (comma list)", _list(_DIMENSION), explode=False),
                _param("sort", "metric or dimension, `-name` or `name:desc` (comma list)",
                       {"type": "string"}),
                _param("limit", "Rows", {"type": "integer", "minimum": 1,
                                         "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT}),
                _param("offset", "Rows to skip", {"type": "integer", "minimum": 0}),
                _param("totals", "Add a totals row over all rows", {"type": "boolean"}),
            ], "Report"),
            "/api/v1/timeline": _operation("Metrics per day or hour, every bucket present", [
                *common, _format(),
                _param("bucket", "date or hour (workspace time)",
                       {"type": "string", "enum": ["date", "hour"], "default": "date"}),
            ], "Report"),
            "/api/v1/leaderboard": _operation("Top values of a dimension by a metric", [
                *common, _format(),
                _param("dimension", "Dimension to rank", _DIMENSION),
                _param("metric", "Metric to rank by (descending)", _METRIC),
                _param("limit", "How many", {"type": "integer", "minimum": 1,
                                             "maximum": MAX_LIMIT, "default": 10}),
            ], "Report"),
            "/api/v1/ab": _operation("A/B test of a rule's destinations (two-proportion z-test)",
                [*(p for p in common if not p["name"].startswith(("f.", "metrics"))),
                 _param("campaign", "Campaign id", _ID, required=True),
                 _param("rule", "Rule id (`default` for the default path)", _ID,
                        required=True),
                 _param("control", "first | best | largest | a destination id",
                        {"type": "string", "default": "first",
                         "examples": list(CONTROLS)}),
                 _param("confidence", "Confidence level of the interval and the test",
                        {"type": "number", "default": 0.95, "minimum": 0.5,
                         "exclusiveMaximum": 1})], "AbTest", csv=False),
            "/api/v1/not-counted": _operation(
                "Conversions that count in no report, by reason (click_not_found, "
                "visitor_not_found, outside_window), source, network, status and currency, "
                "by the time the edge accepted them",
                [*(p for p in common if p["name"] in ("workspace", "from", "to", "tz")),
                 _format()], "Report"),
            "/api/v1/held": _operation(
                "Conversions held out of money: no exchange rate for their currency on their "
                "UTC day; by that day, currency and status, with the original amounts",
                [*(p for p in common if p["name"] in ("workspace", "from", "to", "tz",
                                                      "statuses")),
                 _format()], "Report"),
            "/api/v1/postbacks": _operation(
                "Postbacks to traffic sources by day of their first attempt and source: "
                "attempted, delivered, failed (given up), pending (a retry is scheduled), "
                "attempts and the delivery rate in %",
                [*(p for p in common if p["name"] in ("workspace", "from", "to", "tz")),
                 _format()], "Report"),
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                           "description": "A workspace API key"}},
            "schemas": {"Report": report, "AbTest": ab, "Error": {
                "type": "object", "properties": {"error": {"type": "string"}}}},
        },
    }
