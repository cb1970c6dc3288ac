"""Responses of the raw ASGI paths: prebuilt header tuples, redirects, meta-refresh pages.

Redirect modes: 302 (default), 307, 301 (only when a campaign opted in: browsers cache
it and later clicks never reach us), `meta` (a 200 page that refreshes to the URL) and
`double_meta` (a page that refreshes to a signed edge hop, which refreshes to the URL, so
the destination never sees the original referrer).
"""

from __future__ import annotations

import html
import string
from typing import Final
from urllib.parse import quote

from starlette.types import Send

Headers = list[tuple[bytes, bytes]]
Answer = tuple[int, Headers, bytes]

NO_STORE: Final = (b"cache-control", b"no-store")
NO_REFERRER: Final = (b"referrer-policy", b"no-referrer")
ZERO_LENGTH: Final = (b"content-length", b"0")
HTML: Final = (b"content-type", b"text/html; charset=utf-8")
TEXT: Final = (b"content-type", b"text/plain; charset=utf-8")
JSON: Final = (b"content-type", b"application/json")
REDIRECT_STATUS: Final = {"302": 302, "307": 307, "301": 301}
_URL_SAFE: Final = "".join(c for c in string.printable if c not in string.whitespace)


class UnsafeLocation(ValueError):
    """A rendered URL that cannot be a header value; templates make this impossible."""


def location_bytes(url: str) -> bytes:
    if not url.isascii():
        url = quote(url, safe=_URL_SAFE)
    if not url.isprintable() or " " in url:
        raise UnsafeLocation("rendered URL has whitespace or control characters")
    return url.encode("ascii")


def meta_page(url: str) -> bytes:
    escaped = html.escape(url, quote=True)
    return (
        '<!doctype html><html><head><meta charset="utf-8">'
        '<meta name="referrer" content="no-referrer">'
        f'<meta http-equiv="refresh" content="0;url={escaped}">'
        "<title>Redirecting</title></head>"
        f'<body><a href="{escaped}">Continue</a></body></html>'
    ).encode()


def redirect(mode: str, url: str, headers: Headers) -> tuple[int, Headers, bytes]:
    """Status, headers and body that send the browser to `url` per `mode` (302/307/301/meta).

    `headers` (cookies etc.) are extended in place. `double_meta` is not handled here: the
    caller first signs a hop to itself and asks for a `meta` page to that hop.
    """
    status = REDIRECT_STATUS.get(mode)
    if status is not None:
        headers.append((b"location", location_bytes(url)))
        headers.append(NO_STORE)
        headers.append(ZERO_LENGTH)
        return status, headers, b""
    location_bytes(url)  # the same check as a Location header gets
    body = meta_page(url)
    headers.append(HTML)
    headers.append(NO_STORE)
    headers.append(NO_REFERRER)
    headers.append((b"content-length", str(len(body)).encode()))
    return 200, headers, body


def plain(status: int, text: str, headers: Headers | None = None) -> tuple[int, Headers, bytes]:
    body = text.encode()
    out = headers if headers is not None else []
    out.append(TEXT)
    out.append(NO_STORE)
    out.append((b"content-length", str(len(body)).encode()))
    return status, out, body


async def send(send_: Send, status: int, headers: Headers, body: bytes, head: bool = False
               ) -> None:
    await send_({"type": "http.response.start", "status": status, "headers": headers})
    await send_({"type": "http.response.body", "body": b"" if head else body})
