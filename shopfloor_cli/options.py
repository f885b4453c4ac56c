"""``shopfloor run PIPELINE`` options made from the pipeline's defaults (``shopfloor.defaults``): each field made
with ``setting`` becomes one option with its flag, help, default, bounds and choices, so the help a user reads,
the bounds the command enforces and the default a run takes are one declaration."""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Callable
from typing import Any

from shopfloor.platform.budget import parse_seconds


def flag_of(field: dataclasses.Field) -> str:
    return field.metadata.get("flag") or "--" + field.name.replace("_", "-")


def _bounded(
    kind: Callable[[str], Any],
    low: float | None,
    high: float | None,
    measure: Callable[[Any], float] = float,
) -> Callable[[str], Any]:
    """An argparse type that parses with ``kind`` and refuses a value whose ``measure`` lies outside [low, high],
    which argparse reports with the option's name."""

    def parse(text: str) -> Any:
        try:
            value = kind(text)
            size = measure(value)
        except ValueError as exc:
            expected = {int: "a whole number", float: "a number"}.get(kind, "a duration such as 90s, 15m or 1h")
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from exc
        if low is not None and size < low:
            raise argparse.ArgumentTypeError(f"must be at least {low:g}, got {text}")
        if high is not None and size > high:
            raise argparse.ArgumentTypeError(f"must be at most {high:g}, got {text}")
        return value

    parse.__name__ = getattr(kind, "__name__", "value")  # argparse names the type in its messages
    return parse


def _help(field: dataclasses.Field, shown: str) -> str:
    meta = field.metadata
    text = meta["help"].replace("%", "%%")
    bounds = []
    if meta.get("low") is not None:
        bounds.append(f"at least {meta['low']:g}")
    if meta.get("high") is not None:
        bounds.append(f"at most {meta['high']:g}")
    unit = f" {meta['unit']}" if meta.get("unit") else ""
    return f"{text} (default: {shown}{unit}" + (f"; {', '.join(bounds)}" if bounds else "") + ")"


def add_settings(parser: argparse.ArgumentParser, defaults: Any) -> None:
    """One option per ``setting`` field of ``defaults`` (a frozen dataclass of ``shopfloor.defaults``)."""
    for field in dataclasses.fields(defaults):
        if "help" not in field.metadata:
            continue  # a pipeline parameter the command line does not offer
        default, flag, meta = getattr(defaults, field.name), flag_of(field), field.metadata
        if isinstance(default, bool):  # a switch away from the default: --no-X for what is on by default
            state = "on; this flag turns it off" if default else "off"
            parser.add_argument(
                flag, action="store_true", help=meta["help"].replace("%", "%%") + f" (default: {state})"
            )
        elif meta.get("duration"):
            shown = "0 (no limit)" if not default else f"{default / 60:g}m"
            parser.add_argument(
                flag,
                default=f"{default / 60:g}m",
                type=_bounded(str, meta["low"], meta["high"], measure=parse_seconds),
                metavar="DURATION",
                help=_help(field, shown),
            )
        elif isinstance(default, tuple):
            parser.add_argument(flag, default=",".join(default), metavar="A,B", help=_help(field, ",".join(default)))
        elif meta.get("choices"):
            parser.add_argument(flag, default=default, choices=meta["choices"], help=_help(field, str(default)))
        elif isinstance(default, int | float):
            kind = type(default)
            parser.add_argument(
                flag,
                type=_bounded(kind, meta["low"], meta["high"]),
                default=default,
                metavar="N" if kind is int else "X",
                help=_help(field, f"{default:g}"),
            )
        else:
            parser.add_argument(flag, default=default, help=_help(field, repr(default) if default == "" else default))
