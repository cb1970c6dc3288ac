from __future__ import annotations

from turnout.api.app import ALLOWED
from turnout.api.openapi import openapi_document
from turnout.reports.dimensions import DIMENSIONS


def test_document_describes_every_parameter_the_endpoints_accept():
    doc = openapi_document()
    assert doc["openapi"] == "3.1.0"
    for endpoint, allowed in ALLOWED.items():
        operation = doc["paths"][f"/api/v1/{endpoint}"]["get"]
        names = {p["name"] for p in operation["parameters"]}
        assert names - {f"f.{d}" for d in DIMENSIONS} <= allowed, endpoint
        assert allowed - {"metrics"} <= names | ({"metrics"} if endpoint == "ab" else set())
        assert operation["security"] == [{"bearer": []}]
        assert {"200", "400", "401", "403"} <= set(operation["responses"])
        for response in operation["responses"].values():
            for media in response.get("content", {}).values():
                ref = media["schema"].get("$ref")
                if ref:
                    assert ref.rsplit("/", 1)[1] in doc["components"]["schemas"]
