"""JSON in and out of the admin API: request bodies decoded into msgspec Structs (every
refusal a Problem at its field path), responses encoded by msgspec (Structs, datetimes)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final, TypeVar

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from turnout.api.problems import Problem

MAX_BODY: Final = 4 * 1024 * 1024
T = TypeVar("T")

_AT: Final = re.compile(r"^(.*) - at `\$(.*)`$")
_FIELD: Final = re.compile(r"^Object (?:contains unknown|missing required) field `([^`]+)`$")
_ENCODER: Final = msgspec.json.Encoder()


def error_path(message: str) -> tuple[str, str]:
    """msgspec's `Expected `int`, got `str` - at `$.rules[1].weight`` as the graph-validation
    style (path, message): ("rules[1].weight", "Expected `int`, got `str`"). Unknown and
    missing fields name the field itself in the path."""
    match = _AT.match(message)
    text, path = (match.group(1), match.group(2).removeprefix(".")) if match else (message, "")
    field = _FIELD.match(text)
    if field:
        path = f"{path}.{field.group(1)}" if path else field.group(1)
    return path, text


def nul_path(value: Any, path: str = "") -> str | None:
    """The path of the first string (or key) in `value` holding U+0000, if any: PostgreSQL
    text cannot store it."""
    if isinstance(value, str):
        return path if "\x00" in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            at = f"{path}.{key}" if path else str(key)
            if "\x00" in str(key):
                return at
            if (found := nul_path(item, at)) is not None:
                return found
    if isinstance(value, list):
        for index, item in enumerate(value):
            if (found := nul_path(item, f"{path}[{index}]")) is not None:
                return found
    return None


def decode(data: bytes, into: type[T]) -> T:
    """`data` as `into`; malformed JSON is 400, a body of the wrong shape 422 with its path
    (a string holding U+0000 too)."""
    try:
        body = msgspec.json.decode(data, type=into)
    except msgspec.ValidationError as exc:
        raise Problem(422, detail="the body does not match its schema",
                      errors=[error_path(str(exc))]) from None
    except msgspec.DecodeError as exc:
        raise Problem(400, detail=f"the body is not JSON: {exc}") from None
    # The JSON as sent, not the Struct: a field kept raw (msgspec.Raw) is decoded later.
    if b"\\u0000" in data and (path := nul_path(msgspec.json.decode(data))) is not None:
        raise Problem(422, detail="the body does not match its schema",
                      errors=[(path, "text may not contain U+0000 (NUL)")])
    return body


async def read_bytes(request: Request) -> bytes:
    """The body, refused with 413 past MAX_BODY (before it is all read)."""
    if int(request.headers.get("content-length") or 0) > MAX_BODY:
        raise Problem(413, detail=f"bodies are at most {MAX_BODY} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise Problem(413, detail=f"bodies are at most {MAX_BODY} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def read_body(request: Request, into: type[T]) -> T:
    return decode(await read_bytes(request), into)


def json_response(content: Any, status: int = 200,
                  headers: Mapping[str, str] | None = None) -> Response:
    """`content` (Structs, dicts, lists, datetimes...) as application/json."""
    return Response(_ENCODER.encode(content), status_code=status, headers=headers,
                    media_type="application/json")
