"""Request bodies: msgspec's refusals as problems at graph-validation style paths."""

from __future__ import annotations

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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


@pytest.mark.parametrize(("body", "path"), [
    (b'{"name": "a\\u0000b"}', "name"),
    (b'{"name": "x", "rules": [{"destinations": []}, {"destinations": [], "\\u0000": 1}]}',
     "rules[1].\x00"),
])
def test_nul_is_a_422_at_its_path(body, path):
    # schemathesis finding (issue #15): a NUL in a name reached PostgreSQL, a 500.
    Loose = dict[str, object]
    for into in (Campaign, Loose):
        try:
            decode(body, into)
        except Problem as problem:
            assert problem.status == 422
            if into is Loose:
                assert problem.errors[0][0] == path
        else:
            raise AssertionError(f"{body!r} decoded as {into}")


@given(st.binary(max_size=200) | st.text(max_size=60).map(
    lambda t: msgspec.json.encode({"name": t})))
@settings(max_examples=300, derandomize=True, database=None)
def test_any_body_is_decoded_or_a_problem(body):
    try:
        campaign = decode(body, Campaign)
    except Problem as problem:
        assert problem.status in (400, 422)
    else:
        assert "\x00" not in campaign.name
