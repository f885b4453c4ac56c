"""Synthesizers of minority-class rows behind one SDV-style interface, their tuning and filters."""

from shopfloor.synth.base import Synthesizer
from shopfloor.synth.ctgan import CTGANSynthesizer
from shopfloor.synth.flow import FlowSynthesizer
from shopfloor.synth.wgan import WGANConfig, WGANSynthesizer

__all__ = ["CTGANSynthesizer", "FlowSynthesizer", "Synthesizer", "WGANConfig", "WGANSynthesizer"]
