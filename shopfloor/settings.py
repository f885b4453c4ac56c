"""Settings dataclasses with keyword overrides, the pattern every trainable model here follows."""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

T = TypeVar("T")


def with_overrides(config: T | None, default: type[T], overrides: dict[str, Any]) -> T:
    """A copy of ``config`` (or of the defaults) with ``overrides`` applied; an unknown name is a
    ``TypeError`` naming it, as a misspelt keyword argument would be."""
    base = config if config is not None else default()
    unknown = [k for k in overrides if k not in {f.name for f in dataclasses.fields(base)}]
    if unknown:
        raise TypeError(f"unknown {default.__name__.removesuffix('Config')} setting {unknown[0]!r}")
    return dataclasses.replace(base, **overrides)
