from __future__ import annotations

import pytest

from turnout.api.keys import KeyRing, key_line, new_token, parse_keys
from turnout.env import SettingError


def test_round_trip_and_isolation():
    one, two = new_token(), new_token()
    assert one != two and one.startswith("tok_")
    ring = KeyRing(parse_keys(f"# keys\n{key_line('ws1', one)}\n\n{key_line('ws2', two)}"))
    assert ring.workspace_for(one) == "ws1" and ring.workspace_for(two) == "ws2"
    assert ring.workspace_for(one + "x") is None and ring.workspace_for("") is None
    assert one not in key_line("ws1", one)  # only the digest is stored


def test_commas_and_bad_lines():
    token = new_token()
    assert len(parse_keys(f"{key_line('a', token)},{key_line('b', token)}")) == 2
    assert parse_keys(None) == ()
    for bad in ("ws1", "ws1:abc", f"bad space:{'0' * 64}"):
        with pytest.raises(SettingError):
            parse_keys(bad)
