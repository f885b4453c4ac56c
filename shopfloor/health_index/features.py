"""Spectral features of raw vibration: log energies in mel-spaced bands, per window.

Frusque et al. use 64 mel bands over 0.1 s windows. ``log_mel_energies`` takes windows of any
length (one row per time step) and returns one log-energy per band; tabular trajectories (one row
per cycle) skip this and use their standardized sensor columns.
"""

from __future__ import annotations

import numpy as np


def _hz_to_mel(f: np.ndarray | float) -> np.ndarray:
    return 2595.0 * np.log10(1.0 + np.asarray(f) / 700.0)


def _mel_to_hz(m: np.ndarray) -> np.ndarray:
    return 700.0 * (10.0 ** (np.asarray(m) / 2595.0) - 1.0)


def mel_filterbank(n_fft: int, fs: float, n_bands: int) -> np.ndarray:
    """Triangular filters on the mel scale, shape (n_bands, n_fft // 2 + 1)."""
    freqs = np.fft.rfftfreq(n_fft, 1.0 / fs)
    edges = _mel_to_hz(np.linspace(_hz_to_mel(0.0), _hz_to_mel(fs / 2.0), n_bands + 2))
    bank = np.zeros((n_bands, len(freqs)))
    for b in range(n_bands):
        lo, mid, hi = edges[b], edges[b + 1], edges[b + 2]
        rise = (freqs - lo) / max(mid - lo, 1e-12)
        fall = (hi - freqs) / max(hi - mid, 1e-12)
        bank[b] = np.clip(np.minimum(rise, fall), 0.0, None)
    return bank


def log_mel_energies(windows: np.ndarray, fs: float, n_bands: int = 64) -> np.ndarray:
    """(steps, samples) windows -> (steps, n_bands) log mel-band energies (Hann window)."""
    windows = np.atleast_2d(np.asarray(windows, dtype=float))
    n = windows.shape[1]
    spectrum = np.abs(np.fft.rfft(windows * np.hanning(n), axis=1)) ** 2
    return np.log(spectrum @ mel_filterbank(n, fs, n_bands).T + 1e-12)
