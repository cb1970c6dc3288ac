from __future__ import annotations

import base64

from hypothesis import given, settings
from hypothesis import strategies as st

from turnout.edge.context import ContextCodec, LanderContext, with_context
from turnout.edge.signing import Signer


@settings(deadline=None)  # a loaded CI box must not fail a parser property
@given(st.binary(max_size=300))
def test_roundtrip(payload):
    signer = Signer(b"secret", "test")
    assert signer.unsign(signer.sign(payload)) == payload


@settings(deadline=None)  # a loaded CI box must not fail a parser property
@given(st.binary(min_size=1, max_size=100), st.integers(min_value=0), st.integers(0, 255))
def test_any_changed_byte_is_rejected(payload, position, value):
    signer = Signer(b"secret", "test")
    token = signer.sign(payload)
    _body, mac = token.split(".")
    raw = bytearray(payload)
    index = position % len(raw)
    if raw[index] == value:
        return
    raw[index] = value
    forged = Signer(b"secret", "test").sign(bytes(raw)).split(".")[0] + "." + mac
    assert signer.unsign(forged) is None


def test_other_secret_or_purpose_is_rejected():
    token = Signer(b"secret", "a").sign(b"x")
    assert Signer(b"secret", "a").unsign(token) == b"x"
    assert Signer(b"other", "a").unsign(token) is None
    assert Signer(b"secret", "b").unsign(token) is None
    for bad in ("", ".", "a.b.c", "x" * 5000, "!!!.???", token + "x"):
        assert Signer(b"secret", "a").unsign(bad) is None


def _context(click: str, step: int = 0) -> LanderContext:
    return LanderContext(click, "camp-a", 3, "usa", "usa", step, 1_700_000_000_000)


def test_context_cookie_roundtrip_and_tamper():
    codec = ContextCodec(b"secret")
    contexts = [_context("A" * 26), _context("B" * 26, 1)]
    token = codec.encode_contexts(contexts)
    assert codec.decode_contexts(token) == contexts
    assert codec.decode_contexts(token.replace(".", "x.", 1)) == []
    assert ContextCodec(b"other").decode_contexts(token) == []
    assert codec.decode_contexts("") == []


def test_with_context_keeps_the_latest_three():
    contexts: list[LanderContext] = []
    for letter in "ABCD":
        contexts = with_context(contexts, _context(letter * 26))
    assert [c.click_id[0] for c in contexts] == ["B", "C", "D"]
    contexts = with_context(contexts, _context("B" * 26, 2))
    assert [(c.click_id[0], c.step) for c in contexts] == [("C", 0), ("D", 0), ("B", 2)]


def test_hop_token_expires_and_cannot_be_a_cookie():
    codec = ContextCodec(b"secret")
    token = codec.hop_token("https://a.example/", 1000)
    assert codec.hop_url(token, 999) == "https://a.example/"
    assert codec.hop_url(token, 1001) is None
    assert codec.decode_contexts(token) == []  # another purpose, another key


def test_tokens_are_the_ones_issued_before():
    # Minted by the implementation before `seal`: cookies already out there stay valid.
    assert Signer(b"secret", "test").sign(b"\x00\xfb\xff payload ~?>") == (
        "APv_IHBheWxvYWQgfj8-.jqVFe9a4_WkTacjViuDLuQ")
    context = LanderContext("01M7YPGTFDDHG53XPNTMQ98MHF", "camp-a", 3, "usa", "usa", 0,
                            1_700_000_000_000)
    assert ContextCodec(b"secret").encode_contexts([context]) == (
        "W1siMDFNN1lQR1RGRERIRzUzWFBOVE1ROThNSEYiLCJjYW1wLWEiLDMsInVzYSIsInVzYSIsMCwxNzAwMDAwM"
        "DAwMDAwXV0.U993JUVRjHq1aD8Dd5iNvg")


@settings(deadline=None)
@given(st.binary(max_size=300))
def test_seal_is_sign_as_bytes_and_plain_urlsafe_base64(payload):
    signer = Signer(b"secret", "test")
    sealed = signer.seal(payload)
    assert sealed.decode("ascii") == signer.sign(payload)
    body, mac = sealed.split(b".")
    assert body == base64.urlsafe_b64encode(payload).rstrip(b"=")
    assert mac == base64.urlsafe_b64encode(signer._mac(payload)).rstrip(b"=")
    codec = ContextCodec(b"secret")
    contexts = [_context("C" * 26, len(payload) % 5)]
    assert codec.seal_contexts(contexts).decode("ascii") == codec.encode_contexts(contexts)


def test_several_secrets_the_first_signs_every_one_verifies():
    old, new = Signer(b"old-key", "p"), Signer([b"new-key", b"old-key"], "p")
    in_flight = old.sign(b"payload")
    assert new.unsign(in_flight) == b"payload"
    fresh = new.sign(b"payload")
    assert fresh == Signer(b"new-key", "p").sign(b"payload")
    assert old.unsign(fresh) is None
    assert Signer([b"new-key"], "p").unsign(in_flight) is None  # the old key dropped
    assert Signer([b"new-key", b"old-key"], "other").unsign(in_flight) is None


def test_rotation_keeps_an_in_flight_cookie_and_hop():
    before = ContextCodec(b"old-key")
    cookie, hop = before.encode_contexts([_context("C1")]), before.hop_token("https://x/", 200)
    after = ContextCodec((b"new-key", b"old-key"))
    assert after.decode_contexts(cookie) == [_context("C1")]
    assert after.hop_url(hop, 100) == "https://x/"
    assert ContextCodec(b"new-key").decode_contexts(cookie) == []
    assert ContextCodec(b"new-key").hop_url(hop, 100) is None


def test_the_secret_setting_is_a_list():
    from turnout.edge.settings import EdgeSettings

    def keys(**env: str) -> tuple[bytes, ...]:
        return EdgeSettings.from_env(env).secrets

    assert keys(TURNOUT_EDGE_SECRET="one") == (b"one",)
    assert keys(TURNOUT_EDGE_SECRET="new, old,") == (b"new", b"old")
    assert len(keys(TURNOUT_EDGE_SECRET=" , ")) == 1  # none given: a random one


def test_the_secret_file_holds_one_key_a_line(tmp_path):
    from turnout.edge.settings import EdgeSettings

    path = tmp_path / "secret"
    path.write_text("new\n\nold\n")
    settings = EdgeSettings.from_env({"TURNOUT_EDGE_SECRET_FILE": str(path)})
    assert settings.secrets == (b"new", b"old") and not settings.secret_generated
