"""The forms of offers, landers, funnels, traffic sources and networks: one field per
field of the entity (config/model.py), named by the API's problem path, so a 422 lands
at the field it is about.

`body` turns a submitted form into the body the entity routes take (POST, PUT); `values`
turns a stored entity into the form's text. Lists are comma-separated; maps are one
`key=value` a line; secrets are never put into a page: on an edit, a blank secret keeps
the stored one (`body`'s `stored`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

from turnout.config.model import TOKENS

FieldKind = Literal["text", "int", "list", "map", "secret", "bool", "pick"]
_INTEGER: Final = re.compile(r"-?\d{1,18}")
_STATUSES: Final = "approved, pending, declined, chargeback"


class FormError(ValueError):
    """A form line the dashboard cannot read (a map line without `=`): said at its field."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(message)
        self.path = path


@dataclass(frozen=True, slots=True)
class Field:
    name: str
    label: str
    kind: FieldKind = "text"
    required: bool = False
    hint: str = ""
    pick: str = ""
    """For kind "pick": the segment whose ids the value is chosen from."""


@dataclass(frozen=True, slots=True)
class EntityForm:
    segment: str  # /api/v1/<segment> and /ui/<segment>
    singular: str
    fields: tuple[Field, ...]

    def picks(self) -> tuple[str, ...]:
        return tuple(f.pick for f in self.fields if f.kind == "pick")


_ID = Field("id", "Id", required=True, hint="letters, digits, - and _; cannot change later")
_NAME = Field("name", "Name", required=True)
FORMS: Final[dict[str, EntityForm]] = {form.segment: form for form in (
    EntityForm("offers", "offer", (
        _ID, _NAME,
        Field("url", "URL", required=True, hint="a template: {clickid}, {sub1}, {param:NAME}…"),
        Field("network", "Network", "pick", required=True, pick="networks"),
        Field("payout", "Payout", hint="decimal, when a postback names none; default 0"),
        Field("currency", "Currency", hint="ISO 4217; empty: the workspace's"),
        Field("daily_cap", "Daily conversion cap", "int",
              hint="approved conversions a day; empty: none"),
        Field("daily_click_cap", "Daily click cap", "int", hint="clicks a day; empty: none"),
        Field("fallback_offer", "Fallback offer", "pick", pick="offers",
              hint="takes the traffic while this offer is capped"),
    )),
    EntityForm("landers", "lander", (
        _ID, _NAME,
        Field("url", "URL", required=True, hint="pass {lp_cid} on as /click?cid="),
        Field("cta_count", "CTAs", "int", hint="offers it links to; default 1"),
    )),
    EntityForm("funnels", "funnel", (
        _ID, _NAME,
        Field("landers", "Landers", "list", required=True, hint="lander ids, in order"),
        Field("offers", "Offers", "list", required=True,
              hint="offer ids the last lander's CTAs lead to, in order"),
    )),
    EntityForm("traffic-sources", "traffic source", (
        _ID, _NAME,
        Field("tokens", "Token mapping", "map",
              hint="one a line: our token=the source's parameter, e.g. sub1=zoneid; tokens: "
                   + ", ".join(TOKENS)),
        Field("postback_url", "Postback URL",
              hint="where conversions are reported: {clickid}, {payout}, {status}…"),
        Field("postback_statuses", "Postback statuses", "list",
              hint=f"of {_STATUSES}; default approved"),
        Field("payout_percent", "Payout %", hint="share of the payout reported, 0..100"),
        Field("postback_percent", "Postback %",
              hint="share of the conversions reported at all, 0..100"),
    )),
    EntityForm("networks", "network", (
        _ID, _NAME,
        Field("secret", "Postback secret", "secret", required=True,
              hint="its postbacks carry it as secret="),
        Field("hmac_key", "HMAC key", "secret", hint="to sign postbacks instead; optional"),
        Field("ip_allowlist", "IP allowlist", "list", hint="CIDRs; empty: any address"),
        Field("statuses", "Status words", "map",
              hint=f"one a line: its word=one of {_STATUSES}"),
        Field("convert_other_offers", "May convert clicks on other networks' offers", "bool"),
    )),
)}
MASK: Final = "***"  # what a secret shows as (control/audit.py MASK)


def _map(name: str, text: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            raise FormError(name, f"line {number}: write key=value, got {line.strip()!r}")
        found[key.strip()] = value.strip()
    return found


def body(form: EntityForm, submitted: Mapping[str, str],
         stored: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The API body of a submitted form. Empty optional fields are left out (the API's
    default); integers that are not numbers stay text, so the API names the mistake at the
    field. `stored` (an edit): blank secrets keep its values, unless `<name>.clear`."""
    out: dict[str, Any] = {}
    for field in form.fields:
        text = submitted.get(field.name, "")
        text = text if field.kind == "map" else text.strip()
        if field.kind == "bool":
            out[field.name] = text in ("on", "true", "1")
        elif field.kind == "secret":
            if stored is not None and submitted.get(f"{field.name}.clear"):
                continue
            if not text and stored is not None:
                text = stored.get(field.name) or ""
            if text:
                out[field.name] = text
        elif field.kind == "map":
            out[field.name] = _map(field.name, text)
        elif field.kind == "list":
            out[field.name] = [p.strip() for p in text.split(",") if p.strip()]
        elif text == "":
            continue
        elif field.kind == "int":
            out[field.name] = int(text) if _INTEGER.fullmatch(text) else text
        else:
            out[field.name] = text
    return out


def values(form: EntityForm, stored: Mapping[str, Any]) -> dict[str, str]:
    """A stored entity (or a submitted form) as the form's text; secrets left blank."""
    shown: dict[str, str] = {}
    for field in form.fields:
        value = stored.get(field.name)
        if field.kind == "secret" or value is None:
            shown[field.name] = ""
        elif field.kind == "bool":
            shown[field.name] = "on" if value in (True, "on", "true", "1") else ""
        elif field.kind == "map" and isinstance(value, Mapping):
            shown[field.name] = "\n".join(f"{k}={v}" for k, v in value.items())
        elif field.kind == "list" and isinstance(value, list | tuple):
            shown[field.name] = ", ".join(str(v) for v in value)
        else:
            shown[field.name] = str(value)
    return shown
