"""Reading `TURNOUT_*` settings from the environment, once, at start.

Every setting `NAME` is read from `TURNOUT_NAME`; a secret may instead come from the
file named by `TURNOUT_NAME_FILE` (docker/k8s secrets), which wins when both are set.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from turnout.errors import TurnoutError

PREFIX = "TURNOUT_"


class SettingError(TurnoutError, ValueError):
    """A setting has a value that cannot be used."""


def raw(name: str, environ: Mapping[str, str] | None = None) -> str | None:
    env = os.environ if environ is None else environ
    key = PREFIX + name.upper()
    path = env.get(key + "_FILE")
    if path:
        return Path(path).read_text().strip()
    return env.get(key)


def text(name: str, default: str, environ: Mapping[str, str] | None = None) -> str:
    value = raw(name, environ)
    return default if value is None or value == "" else value


def integer(name: str, default: int, environ: Mapping[str, str] | None = None) -> int:
    value = raw(name, environ)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise SettingError(f"{PREFIX}{name.upper()}: expected an integer, got {value!r}") from None


def number(name: str, default: float, environ: Mapping[str, str] | None = None) -> float:
    value = raw(name, environ)
    if value is None or value == "":
        return default
    try:
        return float(value)
    except ValueError:
        raise SettingError(f"{PREFIX}{name.upper()}: expected a number, got {value!r}") from None


def flag(name: str, default: bool, environ: Mapping[str, str] | None = None) -> bool:
    value = raw(name, environ)
    if value is None or value == "":
        return default
    lowered = value.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise SettingError(f"{PREFIX}{name.upper()}: expected a boolean, got {value!r}")


def listing(name: str, default: tuple[str, ...], environ: Mapping[str, str] | None = None
            ) -> tuple[str, ...]:
    value = raw(name, environ)
    if value is None or value == "":
        return default
    return tuple(part.strip() for part in value.split(",") if part.strip())
