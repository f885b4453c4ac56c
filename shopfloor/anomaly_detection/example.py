"""The anomaly detector's example for the docs: a Mahalanobis detector on the healthy sub-cuts of six simulated
milling cases, asked about one sub-cut (its six signals, 64 samples each)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from shopfloor.examples import Example


def example(folder: Path) -> Example:
    from shopfloor.anomaly_detection import data as milling
    from shopfloor.anomaly_detection.baselines import MahalanobisDetector
    from shopfloor.anomaly_detection.pyfunc import MillingAnomalyPyfunc
    from shopfloor.anomaly_detection.simulate import simulate_milling

    sub = milling.subcuts(milling.load_table(simulate_milling(cases=6, samples=800, seed=0)))
    classes = sub.meta["tool_class"].to_numpy().astype(int)
    detector = MahalanobisDetector().fit(sub.X[classes == 0])
    detector.set_threshold(sub.X, (classes == 2).astype(int))
    typical = MillingAnomalyPyfunc.typical(detector, sub.X[classes == 0])
    model = MillingAnomalyPyfunc(detector, tuple(sub.signal_names), sub.stride, reference=typical)
    window = np.round(sub.X[-1].astype(np.float64), 4).tolist()
    return Example(model, sub.X[:2].astype(np.float32), [window], "test_ap")
