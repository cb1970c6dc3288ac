"""Decode and check one Kafka message; a message that fails says why (the DLQ reason).

Everything that could make a ClickHouse insert of the whole batch fail (an integer out of
its column's range, say) is caught here, per message, so one bad message can never stall
the pipeline: it goes to the DLQ and the rest flows.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Annotated, Any, Final, Literal, TypeVar

import msgspec

from turnout import clickid
from turnout.events import (
    CLICK_DECODER,
    CONVERSION_DECODER,
    CONVERSION_STATUSES,
    EVENT_DECODER,
    SCHEMA_VERSION,
    Click,
    Conversion,
    Event,
)
from turnout.ingest.errors import IngestError

CLICK_KINDS: Final = frozenset({"click", "lp_click"})
STATUSES: Final = frozenset(CONVERSION_STATUSES)
_MAX_TS_MS: Final = (1 << 48) - 1
_INT64: Final = (-(1 << 63), (1 << 63) - 1)
_UINT64: Final = (0, (1 << 64) - 1)
_UINT32: Final = (0, (1 << 32) - 1)
_UINT8: Final = (0, 255)


class _Version(msgspec.Struct):
    v: object = None


_VERSION_DECODER: Final = msgspec.json.Decoder(_Version)

T = TypeVar("T", Click, Conversion, Event)
S = TypeVar("S", bound=msgspec.Struct)


def _narrowed(base: type[S], types: Mapping[str, Any]) -> type[S]:
    """A subclass of `base` whose fields in `types` carry those narrower types.

    Decoding into it checks the constraints in msgspec's C code, during the decode, instead
    of field by field in Python afterwards. Names, order and defaults stay those of `base`,
    so the decoded objects are `base` objects in every way that matters downstream.
    """
    fields: list[tuple[str, Any] | tuple[str, Any, Any]] = []
    for info in msgspec.structs.fields(base):
        if info.name not in types:
            continue
        if info.default is not msgspec.NODEFAULT:
            fields.append((info.name, types[info.name], info.default))
        elif info.default_factory is not msgspec.NODEFAULT:
            fields.append(
                (info.name, types[info.name], msgspec.field(default_factory=info.default_factory))
            )
        else:
            fields.append((info.name, types[info.name]))
    config = base.__struct_config__
    return msgspec.defstruct(
        f"Checked{base.__name__}", fields, bases=(base,),
        kw_only=True, omit_defaults=config.omit_defaults,
    )


_ID_PATTERN: Final = r"[0-7][0-9A-HJKMNP-TV-Za-hjkmnp-tv-z]{25}"
# Every check of click() below, in msgspec terms; UInt64 tops are checked after decoding
# because msgspec takes no bound beyond int64.
_CheckedClick: Final = _narrowed(Click, {
    "v": Literal[SCHEMA_VERSION],  # type: ignore[valid-type]
    "kind": Literal["click", "lp_click"],
    "click_id": Annotated[str, msgspec.Meta(pattern=rf"\A{_ID_PATTERN}\Z")],
    "parent_click_id": Annotated[str, msgspec.Meta(pattern=rf"\A(?:{_ID_PATTERN})?\Z")],
    "ts_ms": Annotated[int, msgspec.Meta(gt=0, le=(1 << 48) - 1)],
    "workspace_id": Annotated[str, msgspec.Meta(min_length=1)],
    "campaign_id": Annotated[str, msgspec.Meta(min_length=1)],
    "graph_version": Annotated[int, msgspec.Meta(ge=0)],
    "funnel_step": Annotated[int, msgspec.Meta(ge=0, le=255)],
    "asn": Annotated[int, msgspec.Meta(ge=0, le=(1 << 32) - 1)],
    "cost_micros": Annotated[int, msgspec.Meta(ge=-(1 << 63), le=(1 << 63) - 1)],
    "cost_rate_micros": Annotated[int, msgspec.Meta(ge=-(1 << 63), le=(1 << 63) - 1)],
    "attribution_window_ms": Annotated[int, msgspec.Meta(ge=0)],
    "unique_window_ms": Annotated[int, msgspec.Meta(ge=0)],
    "subs": Annotated[list[str], msgspec.Meta(max_length=10)],
})
_CHECKED_CLICK_DECODER: Final = msgspec.json.Decoder(_CheckedClick)
# The same checks but the two id patterns: `clicks` matches those for a whole batch at
# once, which costs a thirtieth of msgspec's pattern checks (about half of the decode).
_ID_DEFERRED_DECODER: Final = msgspec.json.Decoder(
    msgspec.defstruct(
        "IdDeferredClick", [("click_id", str), ("parent_click_id", str, "")],
        bases=(_CheckedClick,), kw_only=True, omit_defaults=True,
    )
)
# Each click's "click_id parent_click_id" line, all of a batch joined.
_BATCH_IDS: Final = re.compile(rf"(?:{_ID_PATTERN} (?:{_ID_PATTERN})?\n)*")


class Invalid(IngestError, ValueError):
    """The message cannot be ingested; str(exc) is the DLQ reason."""


def _decode(raw: bytes | None, decoder: msgspec.json.Decoder[T]) -> T:
    if raw is None:
        raise Invalid("empty message (tombstone)")
    try:
        item = decoder.decode(raw)
    except msgspec.ValidationError as exc:
        # A message from a newer edge fails the old struct; say so rather than "field x".
        version = _peek_version(raw)
        if version is not None and version != SCHEMA_VERSION:
            raise Invalid(f"unsupported schema version {version!r}") from None
        raise Invalid(f"schema: {exc}") from None
    except msgspec.DecodeError as exc:
        raise Invalid(f"malformed JSON: {exc}") from None
    if item.v != SCHEMA_VERSION:
        raise Invalid(f"unsupported schema version {item.v!r}")
    return item


def _peek_version(raw: bytes) -> object:
    try:
        return _VERSION_DECODER.decode(raw).v
    except (msgspec.ValidationError, msgspec.DecodeError):
        return None


def _click_id(text: str, field: str) -> str:
    try:
        return clickid.normalize(text)
    except clickid.ClickIdError as exc:
        raise Invalid(f"{field}: {exc}") from None


def _in_range(value: int, bounds: tuple[int, int], field: str) -> None:
    if not bounds[0] <= value <= bounds[1]:
        raise Invalid(f"{field}: {value} is out of range")


def _ts(value: int) -> None:
    if not 0 < value <= _MAX_TS_MS:
        raise Invalid(f"ts_ms: {value} is not a millisecond timestamp")


def _required(value: str, field: str) -> None:
    if not value:
        raise Invalid(f"{field}: must not be empty")


def click(raw: bytes | None) -> Click:
    """A valid click, its ids upper-cased; raises Invalid with the reason otherwise."""
    item = _quick_click(raw, _CHECKED_CLICK_DECODER)
    if item is None:
        return _checked_click(raw)
    return _upper_ids(item)


Outcome = T | Invalid


def clicks(raws: Sequence[bytes | None]) -> list[Outcome[Click]]:
    """`click` of each message, in order, a click or the Invalid it would raise.

    The id patterns are matched once for the batch; if any id fails them, every message
    goes through `click` to find which.
    """
    items = [_quick_click(raw, _ID_DEFERRED_DECODER) for raw in raws]
    lines = [f"{item.click_id} {item.parent_click_id}\n" for item in items if item is not None]
    joined = "".join(lines)
    # As many line ends as clicks: no id hides a line end (and a valid id after it).
    if joined.count("\n") != len(lines) or _BATCH_IDS.fullmatch(joined) is None:
        return each(click)(raws)
    return [
        _upper_ids(item) if item is not None else _outcome(click, raw)
        for item, raw in zip(items, raws, strict=True)
    ]


def each(
    check: Callable[[bytes | None], T],
) -> Callable[[Sequence[bytes | None]], list[Outcome[T]]]:
    """A batch check from a per-message one."""

    def batch(raws: Sequence[bytes | None]) -> list[Outcome[T]]:
        return [_outcome(check, raw) for raw in raws]

    return batch


def _outcome(check: Callable[[bytes | None], T], raw: bytes | None) -> Outcome[T]:
    try:
        return check(raw)
    except Invalid as exc:
        return exc


def _quick_click(raw: bytes | None, decoder: msgspec.json.Decoder[Any]) -> Click | None:
    """The decoded click if it passes every check in one go; None if it needs a look."""
    if raw is None:
        return None
    try:
        item: Click = decoder.decode(raw)
    except (msgspec.ValidationError, msgspec.DecodeError):
        return None  # the reference checks say why
    if (item.graph_version | item.attribution_window_ms | item.unique_window_ms) >> 64 == 0 and (
        item.parent_click_id or item.kind == "click"
    ):
        return item
    return None


def _upper_ids(item: Click) -> Click:
    if not item.click_id.isupper():
        item.click_id = item.click_id.upper()
    if item.parent_click_id and not item.parent_click_id.isupper():
        item.parent_click_id = item.parent_click_id.upper()
    return item


def _checked_click(raw: bytes | None) -> Click:
    """The reference checks, one by one; the reason of the first that fails."""
    item = _decode(raw, CLICK_DECODER)
    if item.kind not in CLICK_KINDS:
        raise Invalid(f"kind: {item.kind!r} is not one of click, lp_click")
    item.click_id = _click_id(item.click_id, "click_id")
    if item.kind == "lp_click" or item.parent_click_id:
        item.parent_click_id = _click_id(item.parent_click_id, "parent_click_id")
    # One expression for the common, valid case; _explain_click finds the reason otherwise.
    if not (
        0 < item.ts_ms <= _MAX_TS_MS
        and item.workspace_id
        and item.campaign_id
        and 0 <= item.graph_version <= _UINT64[1]
        and 0 <= item.funnel_step <= _UINT8[1]
        and 0 <= item.asn <= _UINT32[1]
        and _INT64[0] <= item.cost_micros <= _INT64[1]
        and _INT64[0] <= item.cost_rate_micros <= _INT64[1]
        and 0 <= item.attribution_window_ms <= _UINT64[1]
        and 0 <= item.unique_window_ms <= _UINT64[1]
        and len(item.subs) <= 10
    ):
        _explain_click(item)
    return item


def _explain_click(item: Click) -> None:
    _ts(item.ts_ms)
    _required(item.workspace_id, "workspace_id")
    _required(item.campaign_id, "campaign_id")
    _in_range(item.graph_version, _UINT64, "graph_version")
    _in_range(item.funnel_step, _UINT8, "funnel_step")
    _in_range(item.asn, _UINT32, "asn")
    _in_range(item.cost_micros, _INT64, "cost_micros")
    _in_range(item.cost_rate_micros, _INT64, "cost_rate_micros")
    _in_range(item.attribution_window_ms, _UINT64, "attribution_window_ms")
    _in_range(item.unique_window_ms, _UINT64, "unique_window_ms")
    raise Invalid(f"subs: {len(item.subs)} values, at most 10")


def conversion(raw: bytes | None) -> Conversion:
    item = _decode(raw, CONVERSION_DECODER)
    item.conversion_id = _click_id(item.conversion_id, "conversion_id")
    if item.click_id:
        item.click_id = _click_id(item.click_id, "click_id")
    elif not item.visitor_id:
        raise Invalid("conversion has neither click_id nor visitor_id")
    if item.status not in STATUSES:
        raise Invalid(f"status: {item.status!r} is not one of {', '.join(sorted(STATUSES))}")
    _ts(item.ts_ms)
    _in_range(item.payout_micros, _INT64, "payout_micros")
    # The edge names the workspace of every conversion it accepts (the network's, or the
    # pixel key's); without one, attribution could not keep it inside a workspace.
    _required(item.workspace_id, "workspace_id")
    return item


def event(raw: bytes | None) -> Event:
    item = _decode(raw, EVENT_DECODER)
    _required(item.event_id, "event_id")
    _required(item.name, "name")
    if item.click_id:
        item.click_id = _click_id(item.click_id, "click_id")
    _ts(item.ts_ms)
    _in_range(item.value_micros, _INT64, "value_micros")
    return item
