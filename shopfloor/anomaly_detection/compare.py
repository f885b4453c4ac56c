"""The beta-VAE against the simple detectors, chosen on validation only.

Every candidate learns from the same healthy training windows; each is scored by its average precision (AP) on
the validation windows (failed tool vs not); the best one serves, with its threshold set on validation. On a
tie the simpler detector wins (candidates are ordered simplest first). Test windows only ever fill the report.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from shopfloor.anomaly_detection.base import DEFAULT_TRAIN_ON, SubcutDetector, training_mask
from shopfloor.anomaly_detection.baselines import IsolationForestDetector, MahalanobisDetector, RMSDetector
from shopfloor.anomaly_detection.data import FAILED
from shopfloor.anomaly_detection.evaluate import score_metrics
from shopfloor.anomaly_detection.search import average_precision

VAE = "beta_vae"


def fit_baselines(
    X_train: np.ndarray,
    class_train: np.ndarray,
    X_valid: np.ndarray,
    class_valid: np.ndarray,
    *,
    train_on: str = DEFAULT_TRAIN_ON,
    threshold_metric: str = "f1",
    seed: int = 0,
    signal_names: tuple[str, ...] = (),
) -> dict[str, SubcutDetector]:
    """The simple detectors, simplest first, fitted on the training windows of the ``train_on`` classes."""
    learn = X_train[training_mask(class_train, train_on)]
    failed_valid = (np.asarray(class_valid) == FAILED).astype(int)
    return {
        RMSDetector.name: RMSDetector(threshold_metric).fit(learn, X_valid, failed_valid, signal_names),
        MahalanobisDetector.name: MahalanobisDetector(threshold_metric).fit(learn),
        IsolationForestDetector.name: IsolationForestDetector(threshold_metric, seed=seed).fit(learn),
    }


def choose(
    candidates: dict[str, SubcutDetector], X_valid: np.ndarray, failed_valid: np.ndarray
) -> tuple[str, dict[str, float]]:
    """The candidate with the best validation AP (the first on a tie), and every candidate's validation AP; each
    candidate's threshold is set on the same validation windows."""
    aps = {}
    for name, detector in candidates.items():
        aps[name] = average_precision(failed_valid, detector.decision_function(X_valid))
        detector.set_threshold(X_valid, failed_valid)
    finite = {k: v for k, v in aps.items() if np.isfinite(v)}
    if not finite:
        raise ValueError("no detector has a finite validation AP: the validation windows need failed and other tools")
    best = max(finite.values())
    return next(k for k, v in finite.items() if np.isclose(v, best, rtol=0, atol=1e-9)), aps


def comparison(
    candidates: dict[str, SubcutDetector], chosen: str, splits: dict[str, tuple[np.ndarray, np.ndarray]]
) -> pd.DataFrame:
    """One row per detector: AP, trapezoid PR-AUC and ROC-AUC on each split in ``splits`` (name -> windows,
    failed), and which one serves."""
    rows = []
    for name, detector in candidates.items():
        row: dict[str, object] = {"detector": name, "chosen": name == chosen}
        for split, (X, failed) in splits.items():
            row |= score_metrics(failed, detector.decision_function(X), split)
        rows.append(row)
    return pd.DataFrame(rows)
