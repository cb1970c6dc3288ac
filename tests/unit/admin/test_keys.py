"""API key tokens, their hashes, roles and who may grant what."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from turnout.api.admin.principal import ROLES, Principal, at_least
from turnout.control import keys


def stored(token: str, **changes) -> keys.StoredKey:
    key_id = keys.key_id_of(token)
    assert key_id is not None
    now = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    fields = dict(id=key_id, workspace_id="ws", name="", role="viewer",
                  prefix=keys.prefix_of(key_id), created_at=now, expires_at=None,
                  last_used_at=None, revoked_at=None, rate_per_minute=None)
    return keys.StoredKey(keys.Key(**{**fields, **changes}), keys.token_hash(token))


def test_tokens_parse_and_differ():
    made = [keys.new_token() for _ in range(50)]
    assert len({token for _, token in made}) == 50
    for key_id, token in made:
        assert token.startswith(f"tk_{key_id}_") and keys.key_id_of(token) == key_id
        assert 4 <= len(keys.prefix_of(key_id)) <= 16  # the api_keys.prefix CHECK


@given(st.text(max_size=80))
def test_anything_else_is_not_a_token(text):
    if keys.key_id_of(text) is not None:
        assert text.startswith("tk_") and len(text) == 59


def test_near_misses_are_malformed():
    _, token = keys.new_token()
    for bad in (token[:-1], token + "x", token.replace("tk_", "tok_"), token.upper(),
                " " + token, token[:15] + "." + token[16:]):
        assert keys.key_id_of(bad) is None


def test_the_hash_matches_its_token_only():
    _, token = keys.new_token()
    key = stored(token)
    assert len(key.key_hash) == 32 and token.encode() not in key.key_hash
    assert keys.matches(key, token)
    key_id = keys.key_id_of(token)
    forged = f"tk_{key_id}_{'A' * 43}"
    assert keys.key_id_of(forged) == key_id and not keys.matches(key, forged)


def test_usable_until_revoked_or_expired():
    _, token = keys.new_token()
    now = dt.datetime(2025, 6, 1, tzinfo=dt.UTC)
    assert stored(token).key.usable(now)
    assert not stored(token, revoked_at=now).key.usable(now)
    assert not stored(token, expires_at=now).key.usable(now)
    assert stored(token, expires_at=now + dt.timedelta(seconds=1)).key.usable(now)
    audited = stored(token, last_used_at=now).key.audited()
    assert "key_hash" not in audited and "last_used_at" not in audited
    assert audited["created_at"] == "2025-01-01T00:00:00Z"


def test_roles_ascend():
    assert ROLES == ("viewer", "editor", "admin", "owner")
    for i, mine in enumerate(ROLES):
        principal = Principal("k", "ws", mine, None)
        assert [at_least(principal, other) for other in ROLES] == [j <= i for j in
                                                                    range(len(ROLES))]
    with pytest.raises(ValueError, match="unknown role"):
        at_least(Principal("k", "ws", "viewer", None), "root")


def test_who_grants_what():
    granted = {actor: [r for r in ROLES if keys.may_grant(actor, r)] for actor in ROLES}
    assert granted == {"viewer": [], "editor": [], "admin": ["viewer", "editor"],
                       "owner": list(ROLES)}
