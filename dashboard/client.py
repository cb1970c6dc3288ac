"""The admin and report APIs called in process with the signed-in key: the dashboard's
only way to read or change anything, so it answers exactly as the API does."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import httpx
import orjson
from starlette.types import ASGIApp

_BASE: Final = "http://turnout"
Params = Mapping[str, str | Sequence[str]] | Sequence[tuple[str, str]]


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    body: Any
    """The decoded JSON answer (None when it is not JSON)."""
    content: bytes
    content_type: str

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def detail(self) -> str:
        """What went wrong, in the API's words (problem+json `detail`, or `error`)."""
        if isinstance(self.body, dict):
            text = self.body.get("detail") or self.body.get("error") or self.body.get("title")
            if text:
                return str(text)
        return f"the API answered {self.status}"

    def problems(self) -> dict[str, str]:
        """{path: message} of a problem+json answer's `errors` ("" for the whole body)."""
        found: dict[str, str] = {}
        if isinstance(self.body, dict):
            for error in self.body.get("errors") or ():
                path, message = str(error.get("path", "")), str(error.get("message", ""))
                found[path] = f"{found[path]}; {message}" if path in found else message
        return found


class ApiClient:
    def __init__(self, app: ASGIApp) -> None:
        self.http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=_BASE,
                                      timeout=60.0)

    async def aclose(self) -> None:
        await self.http.aclose()

    async def call(self, token: str, method: str, path: str, *, params: Params | None = None,
                   body: Any = None, revision: int | None = None,
                   raw: tuple[str, bytes] | None = None) -> Answer:
        """`body` is sent as JSON; `raw` is (content type, bytes) sent as they are."""
        headers = {"Authorization": f"Bearer {token}"}
        if revision is not None:
            headers["If-Match"] = f'"{revision}"'
        content = None
        if body is not None:
            content = orjson.dumps(body)
            headers["Content-Type"] = "application/json"
        elif raw is not None:
            headers["Content-Type"], content = raw
        answer = await self.http.request(method, path, params=params, content=content,
                                         headers=headers)
        kind = answer.headers.get("content-type", "")
        decoded = None
        if "json" in kind and answer.content:
            try:
                decoded = orjson.loads(answer.content)
            except orjson.JSONDecodeError:
                decoded = None
        return Answer(answer.status_code, decoded, answer.content, kind)
