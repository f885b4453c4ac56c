"""Choosing a model, its decision threshold and its amount of synthetic rows on held-out predictions.

With a few dozen faulty rows, one validation split is a noisy judge: moving ten faulty units between
splits changes F2 by tenths. So candidates are compared on repeated stratified cross-validation over the
development rows (train + validation): every candidate is fitted on each fold's training part and
predicts its held-out part; the held-out probabilities of all folds and repeats are pooled; the
threshold is the one that maximizes the threshold metric (F2 by default) on the pooled predictions, and
that maximum is the candidate's score. The test split is never looked at here.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from sklearn.metrics import average_precision_score
from sklearn.model_selection import RepeatedStratifiedKFold

from shopfloor.constants import THRESHOLD_METRICS
from shopfloor.errors import DataError
from shopfloor.fault_detection.metrics import classification_report


def folds(labels: np.ndarray, n_folds: int = 5, repeats: int = 2, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """(fit rows, held-out rows) index pairs of repeated stratified K-fold; as many folds as the minority
    class allows (at least 2). The same labels and seed always give the same folds, in every step."""
    labels = np.asarray(labels, dtype=int)
    n_folds = max(2, min(n_folds, int(np.bincount(labels).min())))
    splitter = RepeatedStratifiedKFold(n_splits=n_folds, n_repeats=max(1, repeats), random_state=seed)
    return list(splitter.split(np.zeros(len(labels)), labels))


def forward_folds(labels: np.ndarray, n_folds: int = 5) -> list[tuple[np.ndarray, np.ndarray]]:
    """Forward-chaining folds over rows in time order: the rows are cut into ``n_folds`` + 1 consecutive blocks,
    and fold k fits on blocks 0..k and holds out block k + 1, so no fold is scored on rows older than the ones it
    learned from. A fold whose fitted rows hold fewer than two faults or whose held-out block holds none is
    skipped; none left is a ``DataError``."""
    labels = np.asarray(labels, dtype=int)
    edges = np.linspace(0, len(labels), n_folds + 2).round().astype(int)
    pairs = []
    for k in range(1, n_folds + 1):
        fit, held = np.arange(edges[k]), np.arange(edges[k], edges[k + 1])
        if labels[fit].sum() >= 2 and labels[held].sum() >= 1 and (labels[fit] == 0).any():
            pairs.append((fit, held))
    if not pairs:
        raise DataError(
            "split", f"no forward-chaining fold of {n_folds} has faults both before and in its held-out block"
        )
    return pairs


def check_metric(metric: str) -> str:
    if metric not in THRESHOLD_METRICS:
        raise DataError("threshold-metric", f"must be one of {list(THRESHOLD_METRICS)}, got {metric!r}")
    return metric


def metric_curve(labels: np.ndarray, proba: np.ndarray, metric: str) -> tuple[np.ndarray, np.ndarray]:
    """(thresholds, metric values): for each distinct probability t, the metric of "faulty when p >= t"."""
    check_metric(metric)
    labels, proba = np.asarray(labels, dtype=int), np.asarray(proba, dtype=float)
    order = np.argsort(-proba, kind="stable")
    p, y = proba[order], labels[order]
    last = np.r_[np.flatnonzero(np.diff(p) != 0), len(p) - 1]  # the last row of each group of ties
    tp = np.cumsum(y)[last].astype(float)
    fp = (last + 1) - tp
    positives, negatives = y.sum(), len(y) - y.sum()
    recall = tp / max(positives, 1)
    precision = tp / (tp + fp)
    if metric == "g_mean":
        values = np.sqrt(recall * (1.0 - fp / max(negatives, 1)))
    else:
        b2 = 4.0 if metric == "f2" else 1.0
        denom = b2 * precision + recall
        values = np.divide((1 + b2) * precision * recall, denom, out=np.zeros_like(denom), where=denom > 0)
    return p[last], values


def best_threshold(labels: np.ndarray, proba: np.ndarray, metric: str = "f2") -> tuple[float, float]:
    """(threshold, metric value) maximizing ``metric``; among equal values the highest threshold (the
    fewest false alarms)."""
    thresholds, values = metric_curve(labels, proba, metric)
    k = int(np.flatnonzero(values == values.max())[0])
    return float(thresholds[k]), float(values[k])


@dataclass
class CVScore:
    """How a candidate did on the pooled held-out predictions of the cross-validation."""

    score: float  # the threshold metric at ``threshold``
    threshold: float
    pr_auc: float
    predictions: int

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


def cv_score(labels: np.ndarray, proba: np.ndarray, metric: str = "f2") -> CVScore:
    threshold, value = best_threshold(labels, proba, metric)
    return CVScore(value, threshold, float(average_precision_score(labels, proba)), len(labels))


def evaluate_at(labels: np.ndarray, proba: np.ndarray, threshold: float) -> dict[str, float]:
    """Every reported metric of "faulty when p >= threshold", and the PR-AUC."""
    report = classification_report(np.asarray(labels, dtype=int), (np.asarray(proba) >= threshold).astype(int))
    return {**report, "pr_auc": float(average_precision_score(labels, proba)), "threshold": float(threshold)}
