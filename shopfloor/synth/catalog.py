"""The synthesizers the pipelines offer, by name: adding one is one line here (its class declares its
Optuna search space).

Classes are named by import path and loaded on first use, so that listing the names (the command line's
``--synthesizer`` choices) imports neither torch nor SDV.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from shopfloor.synth.base import Synthesizer

SYNTHESIZERS: dict[str, str] = {
    "wgan": "shopfloor.synth.wgan:WGANSynthesizer",
    "ctgan": "shopfloor.synth.ctgan:CTGANSynthesizer",
    "flow": "shopfloor.synth.flow:FlowSynthesizer",
}
NAMES = tuple(SYNTHESIZERS)


def synthesizer_class(name: str) -> type[Synthesizer]:
    """The class registered as ``name``; ``ValueError`` lists the known names."""
    if name not in SYNTHESIZERS:
        raise ValueError(f"synthesizer must be one of {list(NAMES)}, got {name!r}")
    module, _, attr = SYNTHESIZERS[name].partition(":")
    return getattr(import_module(module), attr)


def parse_selection(text: str | list[str]) -> list[str]:
    """``"wgan,flow"``, ``"all"`` or a list -> known names in order, each once; ``ValueError`` otherwise."""
    parts = text if isinstance(text, list) else [p.strip() for p in str(text).split(",") if p.strip()]
    names = list(NAMES) if parts == ["all"] else list(dict.fromkeys(parts))
    unknown = [n for n in names if n not in SYNTHESIZERS]
    if unknown or not names:
        raise ValueError(f"synthesizer must be 'all' or a comma-separated choice of {list(NAMES)}, got {text!r}")
    return names
