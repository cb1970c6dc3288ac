"""The admin API from the command line: `turnout key|campaign|...` verbs are thin callers
of a running `turnout api` (TURNOUT_API_URL, TURNOUT_API_KEY), like any other client.

Answers that are problem+json become ApiRefused (exit 3) with the detail and each field's
path; a server that cannot be reached, or answers 5xx/429, ApiUnavailable (exit 4).
"""

from __future__ import annotations

import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

import orjson

from turnout.cli.report import ApiClientSettings
from turnout.errors import TurnoutError


class ApiError(TurnoutError):
    """Root of the API client's errors."""


class ApiRefused(ApiError):
    """The API answered 4xx: asking again the same way will not help."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class ApiUnavailable(ApiError):
    retriable = True


def _message(status: int, body: bytes, reason: str) -> str:
    try:
        problem = orjson.loads(body or b"{}")
    except orjson.JSONDecodeError:  # a proxy's HTML page, say
        return f"HTTP {status}: {reason}"
    if not isinstance(problem, dict):
        return f"HTTP {status}: {reason}"
    text = problem.get("detail") or problem.get("error") or problem.get("title") or reason
    lines = [f"HTTP {status}: {text}"]
    lines += [f"  {e['path'] or '(body)'}: {e['message']}" for e in problem.get("errors", ())
              if isinstance(e, dict) and "path" in e and "message" in e]
    return "\n".join(lines)


@dataclass(frozen=True, slots=True)
class ApiClient:
    url: str
    key: str
    timeout_s: float = 30.0

    @classmethod
    def from_args(cls, url: str | None, key: str | None) -> ApiClient:
        settings = ApiClientSettings.from_env()
        url, key = url or settings.url, key or settings.key
        if not url:
            raise ApiRefused(0, "no API: pass --api URL or set TURNOUT_API_URL")
        if not key:
            raise ApiRefused(0, "no API key: pass --key or set TURNOUT_API_KEY")
        return cls(url.rstrip("/"), key)

    def request(self, method: str, path: str, body: Any = None,
                headers: dict[str, str] | None = None) -> Any:
        """The decoded JSON answer (None for an empty one)."""
        data = None if body is None else orjson.dumps(body)
        raw = self.send(method, path, data, "application/json", headers=headers)
        return orjson.loads(raw) if raw else None

    def send(self, method: str, path: str, data: bytes | None = None,
             content_type: str | None = None, accept: str = "application/json",
             headers: dict[str, str] | None = None) -> bytes:
        """The answer's bytes, for bodies that are not JSON (a YAML graph)."""
        request = urllib.request.Request(
            self.url + path, data=data, method=method,
            headers={"Authorization": f"Bearer {self.key}", "Accept": accept,
                     **({"Content-Type": content_type} if data is not None and content_type
                        else {}),
                     **(headers or {})})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                raw: bytes = response.read()
        except urllib.error.HTTPError as exc:
            message = _message(exc.code, exc.read(), exc.reason)
            if exc.code >= 500 or exc.code == 429:
                raise ApiUnavailable(f"{self.url}: {message}") from None
            raise ApiRefused(exc.code, message) from None
        except (urllib.error.URLError, OSError) as exc:
            raise ApiUnavailable(f"{self.url}: {exc}") from None
        return raw
