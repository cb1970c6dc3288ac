"""The /api/v1 middleware: request id, bearer key -> Principal, rate limit, headers.

For every request under /api/v1 it
- takes `X-Request-Id` (1-64 URL-safe characters, else 400) or makes one, echoes it on the
  answer and leaves it at `request.state.request_id` (the audit rows carry it);
- answers 401 for a missing, malformed, unknown, expired or revoked key (503 when the key
  cannot be checked because PostgreSQL is out of reach and the key was never seen);
- takes a token from the key's bucket: 429 with Retry-After when empty; every answer
  carries RateLimit-Limit/-Remaining/-Reset (none while Redis is out of reach: fail open);
- leaves the Principal at `request.state.principal` for routes.py's role check.

TURNOUT_API_KEYS (deprecated) still opens the report routes only, as a viewer key.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import uuid
from collections.abc import Collection
from typing import Final

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from turnout.api.admin.principal import Principal
from turnout.api.admin.state import AdminState
from turnout.api.keys import KeyRing
from turnout.api.problems import Problem, problem_response
from turnout.control import keys
from turnout.control.errors import ControlUnavailable

PREFIX: Final = "/api/v1/"
_REQUEST_ID: Final = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
LEGACY_KEY_PREFIX: Final = "env-"


def request_id_of(request: Request) -> str | None:
    rid: str | None = request.scope.get("state", {}).get("request_id")
    return rid


class AdminAuth:
    def __init__(self, app: ASGIApp, admin: AdminState, legacy: KeyRing | None = None,
                 legacy_paths: Collection[str] = ()) -> None:
        self.app = app
        self.admin = admin
        self.legacy = legacy if legacy is not None and legacy.keys else None
        self.legacy_paths = frozenset(legacy_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(PREFIX):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        state = scope.setdefault("state", {})
        extra: dict[str, str] = {}
        try:
            rid = headers.get("x-request-id")
            if rid is not None and not _REQUEST_ID.match(rid):
                raise Problem(400, detail="X-Request-Id: 1 to 64 characters of A-Z a-z 0-9 _ -",
                              errors=[("headers.X-Request-Id", "not a valid request id")])
            extra["X-Request-Id"] = state["request_id"] = rid or uuid.uuid4().hex
            principal = await self.authenticate(headers.get("authorization", ""),
                                                scope["path"])
            decision = await self.admin.limiter.take(
                principal.key_id, principal.rate_per_minute or self.admin.settings.rate_per_minute)
            if decision is not None:
                extra.update(decision.headers())
                if not decision.allowed:
                    raise Problem(429, detail=f"this key may make {decision.limit} requests "
                                              "a minute", headers=extra)
        except Problem as problem:
            problem.headers = {**extra, **problem.headers}
            await problem_response(problem)(scope, receive, send)
            return
        state["principal"] = principal
        if not principal.key_id.startswith(LEGACY_KEY_PREFIX):
            self.admin.usage.note(principal.key_id)
        raw = [(name.lower().encode("latin-1"), value.encode("latin-1"))
               for name, value in extra.items()]

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), *raw]
            await send(message)

        await self.app(scope, receive, send_with_headers)

    async def authenticate(self, authorization: str, path: str) -> Principal:
        scheme, _, token = authorization.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise Problem.unauthorized("send an API key: Authorization: Bearer tk_…")
        key_id = keys.key_id_of(token)
        if key_id is None:
            legacy = self._legacy(token, path)
            if legacy is None:
                raise Problem.unauthorized("malformed API key: expected tk_<id>_<secret>")
            return legacy
        try:
            stored = await self.admin.keys.get(key_id)
        except ControlUnavailable as exc:
            raise Problem.unavailable(exc) from None
        if stored is None or not keys.matches(stored, token):
            raise Problem.unauthorized("unknown API key")
        key = stored.key
        if key.revoked_at is not None:
            raise Problem.unauthorized("this API key was revoked")
        if not key.usable(dt.datetime.now(dt.UTC)):
            raise Problem.unauthorized("this API key expired")
        return Principal(key.id, key.workspace_id, key.role, key.rate_per_minute)

    def _legacy(self, token: str, path: str) -> Principal | None:
        if self.legacy is None or path not in self.legacy_paths:
            return None
        workspace = self.legacy.workspace_for(token)
        if workspace is None:
            return None
        key_id = LEGACY_KEY_PREFIX + hashlib.sha256(token.encode()).hexdigest()[:12]
        return Principal(key_id, workspace, "viewer", None)
