from __future__ import annotations

import pytest

from turnout.edge.responses import UnsafeLocation, location_bytes, meta_page, redirect


@pytest.mark.parametrize(("mode", "status"), [("302", 302), ("307", 307), ("301", 301)])
def test_status_redirects(mode, status):
    code, headers, body = redirect(mode, "https://a.example/x?y=1", [(b"set-cookie", b"tv=1")])
    assert code == status and body == b""
    assert (b"location", b"https://a.example/x?y=1") in headers
    assert (b"cache-control", b"no-store") in headers
    assert (b"set-cookie", b"tv=1") in headers


def test_meta_page_escapes_the_url():
    url = 'https://a.example/x?q="><script>alert(1)</script>&b=1'
    status, headers, body = redirect("meta", url, [])
    assert status == 200
    text = body.decode()
    assert "<script>" not in text
    assert "&quot;&gt;&lt;script&gt;" in text
    assert 'content="0;url=https://a.example/x?q=&quot;&gt;' in text
    assert (b"referrer-policy", b"no-referrer") in headers
    assert dict(headers)[b"content-length"] == str(len(body)).encode()


def test_meta_page_is_plain_html():
    assert meta_page("https://a.example/").startswith(b"<!doctype html>")


@pytest.mark.parametrize("url", ["https://a.example/\r\nSet-Cookie: x=1", "https://a.example/ x",
                                 "https://a.example/\x00"])
def test_header_injection_is_impossible(url):
    with pytest.raises(UnsafeLocation):
        location_bytes(url)


def test_non_ascii_literal_is_percent_encoded():
    assert location_bytes("https://a.example/köln") == b"https://a.example/k%C3%B6ln"
