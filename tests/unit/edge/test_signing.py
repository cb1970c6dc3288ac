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
