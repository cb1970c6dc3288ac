"""The argument parser every `turnout` command is registered on."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any


def join_dash_values(argv: Sequence[str], options: Sequence[str]) -> list[str]:
    """`[--sort, -profit]` -> `[--sort=-profit]` for the named options.

    argparse reads any word that starts with '-' as a flag, so `--sort -profit` (a
    descending sort, as the docs write it) would fail with "expected one argument". Only a
    single-dash word is joined: a forgotten value before the next `--flag` still errors.
    """
    out: list[str] = []
    words = iter(argv)
    for word in words:
        if word == "--":
            out.append(word)
            out.extend(words)
            break
        if word in options:
            following = next(words, None)
            if following is not None and following.startswith("-") \
                    and not following.startswith("--") and following != "-h":
                out.append(f"{word}={following}")
                continue
            out.append(word)
            if following is not None:
                out.append(following)
            continue
        out.append(word)
    return out


class Parser(argparse.ArgumentParser):
    """argparse, plus `dash_values`: options whose value may start with '-'."""

    def __init__(self, *args: Any, dash_values: Sequence[str] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.dash_values = tuple(dash_values)

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        words = sys.argv[1:] if args is None else args
        if self.dash_values:
            words = join_dash_values(words, self.dash_values)
        return super().parse_known_args(words, namespace)
