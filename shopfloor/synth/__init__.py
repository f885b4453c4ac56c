"""Synthesizers of minority-class rows behind one SDV-style interface, their tuning and filters.

The classes load on first use (``from shopfloor.synth import WGANSynthesizer``), so importing the
registry of names costs nothing.
"""

from shopfloor.synth.catalog import NAMES, SYNTHESIZERS, synthesizer_class

__all__ = [
    "NAMES",
    "SYNTHESIZERS",
    "CTGANSynthesizer",
    "FlowSynthesizer",
    "Synthesizer",
    "WGANConfig",
    "WGANSynthesizer",
    "synthesizer_class",
]

_LAZY = {
    "CTGANSynthesizer": "shopfloor.synth.ctgan",
    "FlowSynthesizer": "shopfloor.synth.flow",
    "Synthesizer": "shopfloor.synth.base",
    "WGANConfig": "shopfloor.synth.wgan",
    "WGANSynthesizer": "shopfloor.synth.wgan",
}


def __getattr__(name: str):
    if name in _LAZY:
        from importlib import import_module

        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'shopfloor.synth' has no attribute {name!r}")
