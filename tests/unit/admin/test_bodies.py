"""Request bodies: msgspec's refusals as problems at graph-validation style paths."""

from __future__ import annotations

import msgspec
import pytest

from turnout.api.admin.bodies import decode, error_path
from turnout.api.problems import Problem


class Destination(msgspec.Struct, forbid_unknown_fields=True):
    weight: int


class Rule(msgspec.Struct, forbid_unknown_fields=True):
    destinations: list[Destination]


class Campaign(msgspec.Struct, forbid_unknown_fields=True):
    name: str
    rules: list[Rule] = []


@pytest.mark.parametrize(("body", "path"), [
    (b'{"name": "x", "rules": [{"destinations": []}, {"destinations": [{"weight": "a"}]}]}',
     "rules[1].destinations[0].weight"),
    (b'{"name": "x", "colour": 1}', "colour"),
    (b'{"name": "x", "rules": [{"destinations": [{"weight": 1, "w": 2}]}]}',
     "rules[0].destinations[0].w"),
    (b'{"rules": []}', "name"),
    (b'[]', ""),
])
def test_paths(body, path):
    with pytest.raises(Problem) as caught:
        decode(body, Campaign)
    assert caught.value.status == 422 and caught.value.errors[0][0] == path
    assert caught.value.errors[0][1]


def test_malformed_json_is_400():
    with pytest.raises(Problem) as caught:
        decode(b'{"name": ', Campaign)
    assert caught.value.status == 400


def test_error_path_without_location():
    assert error_path("Expected `object`, got `array`") == ("", "Expected `object`, got `array`")
