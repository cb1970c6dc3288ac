"""Every secret, signing key and pixel key names one network or workspace; pixel origins
are origins. Each mistake on the example graph gives exactly its problem and path."""

from __future__ import annotations

import pytest

from tests.unit.config.test_validate import Data, _second_workspace, problems_after
from turnout.config.credentials import normal_origin


def _network(data: Data, **fields: object) -> None:
    data["networks"].append({"id": "gamma-net", "name": "Gamma", "workspace": "acme",
                             "secret": "gamma-postback-secret-03", **fields})


def test_two_networks_with_one_secret_fail():
    assert problems_after(lambda d: _network(d, secret="beta-postback-secret-02")) == [
        "networks[2].secret: already used by networks[1].secret: every secret, signing key "
        "and pixel key must be different"]


def test_one_secret_in_two_workspaces_fails():
    def mutate(data: Data) -> None:
        _second_workspace(data)
        _network(data, workspace="other", secret="alpha-postback-secret-01")

    assert problems_after(mutate) == [
        "networks[2].secret: already used by networks[0].secret: every secret, signing key "
        "and pixel key must be different"]


def test_a_signing_key_or_pixel_key_equal_to_a_secret_fails():
    assert problems_after(lambda d: _network(d, hmac_key="alpha-postback-secret-01")) == [
        "networks[2].hmac_key: already used by networks[0].secret: every secret, signing key "
        "and pixel key must be different"]

    def public_secret(data: Data) -> None:
        data["networks"][0]["secret"] = data["workspaces"][0]["pixel_key"]

    assert problems_after(public_secret) == [
        "workspaces[0].pixel_key: already used by networks[0].secret: every secret, signing "
        "key and pixel key must be different"]


@pytest.mark.parametrize(("fields", "expected"), [
    ({"pixel_key": "short"}, ["workspaces[0].pixel_key: must be 16-128 of A-Z a-z 0-9 _ -"]),
    ({"pixel_origins": []},
     ["workspaces[0].pixel_origins: required with pixel_key: the pages allowed to use it"]),
    ({"pixel_key": None}, ["workspaces[0].pixel_key: required with pixel_origins"]),
    ({"pixel_origins": ["https://Shop.example.com/"]},
     ["workspaces[0].pixel_origins[0]: must be an origin like https://shop.example.com "
      "(write 'https://shop.example.com')"]),
    ({"pixel_origins": ["ftp://shop.example.com"]},
     ["workspaces[0].pixel_origins[0]: must be an origin like https://shop.example.com"]),
    ({"pixel_origins": ["https://a.example", "https://a.example"]},
     ["workspaces[0].pixel_origins[1]: duplicate 'https://a.example'"]),
])
def test_pixel_key_and_origins(fields: dict[str, object], expected: list[str]):
    def mutate(data: Data) -> None:
        for name, value in fields.items():
            if value is None:
                data["workspaces"][0].pop(name)
            else:
                data["workspaces"][0][name] = value

    assert problems_after(mutate) == expected


@pytest.mark.parametrize(("text", "origin"), [
    ("https://shop.example.com", "https://shop.example.com"),
    ("HTTPS://Shop.Example.com:443", "https://shop.example.com"),
    ("http://shop.example.com:8080", "http://shop.example.com:8080"),
    ("http://[2001:db8::1]:80", "http://[2001:db8::1]"),
    ("https://shop.example.com/", None),
    ("https://user@shop.example.com", None),
    ("https://shop.example.com:99999", None),
    ("null", None),
    ("", None),
])
def test_normal_origin(text: str, origin: str | None):
    assert normal_origin(text) == origin
