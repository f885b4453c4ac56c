"""A milling simulator: the embedded default of the anomaly-detection pipeline.

Generative process (one *case* = one tool used for a sequence of cuts under fixed cutting parameters,
as in the UC Berkeley data set, whose 8 parameter combinations it cycles through):

1. Parameters: depth of cut DOC in {0.75, 1.5} mm, feed in {0.25, 0.5} mm/rev, material 1 (cast iron)
   or 2 (steel). Steel, deep cuts and fast feeds wear the tool faster.
2. Flank wear along the case: VB_k = VB_end * (k / K)^p for cuts k = 0..K, with p in [1.3, 2.6] (slow
   running-in, then accelerating wear) and VB_end in [0.72, 1.05] mm, so each case ends past the
   0.7 mm failure limit after a healthy (VB < 0.2) and a degraded stretch; K is shorter for harsher
   parameters. VB is "measured" with 0.01 mm noise.
3. Cutting force by Kienzle's law: F = k_c * DOC * feed^(1 - 0.25) * (1 + 1.6 VB), with k_c 1.0 for cast
   iron and 1.6 for steel (arbitrary units): wear raises the force.
4. Signals at 250 Hz (the data set's rate), ``samples`` per cut, the tool entering and leaving the work
   over the first and last 15 % (``window_start`` / ``window_end`` mark the steady part):
   * ``smcDC`` spindle motor current, DC: 1 + 0.9 F, slow wander, noise;
   * ``smcAC`` spindle motor current, AC: a 60 Hz carrier whose amplitude is 0.5 + 0.6 F;
   * ``vib_table`` table vibration: tooth passing (6 inserts at 826 rpm, 82.6 Hz) in proportion to F,
     plus broadband noise whose level grows with VB^2 (rubbing of the worn flank);
   * ``vib_spindle`` spindle vibration: the 13.8 Hz spindle rotation and its harmonics, run-out growing
     with VB, broadband noise;
   * ``AE_table`` acoustic emission (an RMS-like, positive signal): 0.1 + 0.12 F (1 + 2.5 VB) with bursts
     whose rate grows with wear.
   Each signal's amplitude and spectrum depend on the cutting parameters through F and the frequencies
   above, so a model must separate "harsh parameters" from "worn tool".

The output is one row per sample: ``cut_no`` and the five signals, with the per-cut columns (case, run,
VB, DOC, feed, material, window_start, window_end) repeated on each row; ``shopfloor.anomaly_detection.data``
derives the tool class (0 healthy, 1 degraded, 2 failed) from VB.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

RATE = 250.0
SIGNALS = ("smcAC", "smcDC", "vib_table", "vib_spindle", "AE_table")
COMBINATIONS = [(doc, feed, material) for material in (1, 2) for doc in (1.5, 0.75) for feed in (0.5, 0.25)]


def _wear_curve(cuts: int, rng: np.random.Generator) -> np.ndarray:
    k = np.arange(cuts) / (cuts - 1)
    vb = rng.uniform(0.72, 1.05) * k ** rng.uniform(1.3, 2.6)
    return np.clip(vb + rng.normal(0, 0.01, cuts), 0.0, None)


def _cut(force: float, vb: float, samples: int, rng: np.random.Generator) -> np.ndarray:
    t = np.arange(samples) / RATE
    edge = max(1, int(0.15 * samples))
    engaged = np.clip(np.minimum(np.arange(samples), samples - 1 - np.arange(samples)) / edge, 0.0, 1.0)
    load = force * engaged
    wander = np.cumsum(rng.normal(0, 0.004, samples))
    dc = 1.0 + 0.9 * load + wander + rng.normal(0, 0.03, samples)
    ac = (0.5 + 0.6 * load) * np.sin(2 * np.pi * 60.0 * t + rng.uniform(0, 2 * np.pi)) + rng.normal(0, 0.05, samples)
    tooth = 82.6 * rng.uniform(0.99, 1.01)
    table = 0.35 * load * np.sin(2 * np.pi * tooth * t + rng.uniform(0, 2 * np.pi)) + rng.normal(
        0, 0.04 + 0.25 * vb**2, samples
    ) * (0.3 + 0.7 * engaged)
    spin = 13.77 * rng.uniform(0.99, 1.01)
    spindle = (
        (0.05 + 0.08 * vb) * np.sin(2 * np.pi * spin * t)
        + 0.03 * load * np.sin(4 * np.pi * spin * t)
        + rng.normal(0, 0.015 + 0.05 * vb**2, samples)
    )
    bursts = rng.random(samples) < (0.002 + 0.03 * vb**2) * engaged
    ae = (0.1 + 0.12 * load * (1 + 2.5 * vb)) * (1 + 0.15 * rng.standard_normal(samples)) + bursts * rng.uniform(
        0.2, 0.6, samples
    )
    return np.column_stack([ac, dc, table, spindle, np.abs(ae)])


def simulate_milling(
    cases: int = 8, samples: int = 1600, seed: int = 0, min_cuts: int = 9, max_cuts: int = 16
) -> pd.DataFrame:
    """``cases`` tools worn from new to failed: one row per sample (see the module docstring)."""
    if cases < 1 or samples < 200:
        raise ValueError("simulate at least one case of at least 200 samples per cut")
    rng = np.random.default_rng(seed)
    frames, cut_no = [], 0
    start, end = int(0.2 * samples), int(0.8 * samples)
    for case in range(1, cases + 1):
        doc, feed, material = COMBINATIONS[(case - 1) % len(COMBINATIONS)]
        kc = 1.0 if material == 1 else 1.6
        harsh = (doc == 1.5) + (feed == 0.5) + (material == 2)
        cuts = int(rng.integers(min_cuts, max_cuts + 1)) - harsh
        vbs = _wear_curve(max(cuts, 5), rng)
        force = kc * doc * feed**0.75
        for run, vb in enumerate(vbs, start=1):
            signals = _cut(force * (1 + 1.6 * vb), float(vb), samples, rng)
            frame = pd.DataFrame(signals.astype(np.float32), columns=list(SIGNALS))
            frame.insert(0, "cut_no", cut_no)
            frames.append(
                frame.assign(
                    case=case,
                    run=run,
                    VB=round(float(vb), 3),
                    DOC=doc,
                    feed=feed,
                    material=material,
                    window_start=start,
                    window_end=end,
                )
            )
            cut_no += 1
    return pd.concat(frames, ignore_index=True)
